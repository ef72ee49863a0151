#include "model/net.h"

#include <charconv>
#include <cstdio>

namespace vmgw {
namespace {

// Parses a decimal number without sign, leading zeros (except "0") or trailing junk.
std::optional<uint32_t> parse_decimal(std::string_view s, uint32_t max) {
  if (s.empty() || s.size() > 10) return std::nullopt;
  if (s.size() > 1 && s[0] == '0') return std::nullopt;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  if (v > max) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::optional<std::pair<std::string_view, int>> split_prefix(std::string_view text) {
  auto slash = text.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  auto len = parse_decimal(text.substr(slash + 1), 32);
  if (!len) return std::nullopt;
  return std::pair{text.substr(0, slash), static_cast<int>(*len)};
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

std::optional<Ipv4> Ipv4::parse(std::string_view text) {
  uint32_t value = 0;
  for (int i = 0; i < 4; ++i) {
    auto dot = text.find('.');
    if ((i < 3) == (dot == std::string_view::npos)) return std::nullopt;
    auto octet = parse_decimal(text.substr(0, dot), 255);
    if (!octet) return std::nullopt;
    value = (value << 8) | *octet;
    text = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  }
  return Ipv4{value};
}

std::string Ipv4::str() const {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", (value >> 24) & 255U, (value >> 16) & 255U,
                (value >> 8) & 255U, value & 255U);
  return buf;
}

std::optional<InterfaceAddress> InterfaceAddress::parse(std::string_view text) {
  auto parts = split_prefix(text);
  if (!parts) return std::nullopt;
  auto addr = Ipv4::parse(parts->first);
  if (!addr) return std::nullopt;
  return InterfaceAddress{*addr, parts->second};
}

std::string InterfaceAddress::str() const {
  return address.str() + "/" + std::to_string(prefix);
}

std::optional<Cidr> Cidr::parse(std::string_view text) {
  auto parts = split_prefix(text);
  if (!parts) return std::nullopt;
  auto addr = Ipv4::parse(parts->first);
  if (!addr) return std::nullopt;
  Cidr c{*addr, parts->second};
  if ((addr->value & ~c.mask()) != 0) return std::nullopt;
  return c;
}

uint32_t Cidr::mask() const {
  return prefix == 0 ? 0 : ~uint32_t{0} << (32 - prefix);
}
bool Cidr::contains(Ipv4 a) const {
  return (a.value & mask()) == network.value;
}
bool Cidr::overlaps(const Cidr& o) const {
  return contains(o.network) || o.contains(network);
}
Ipv4 Cidr::last() const {
  return Ipv4{network.value | ~mask()};
}
std::string Cidr::str() const {
  return network.str() + "/" + std::to_string(prefix);
}

std::optional<Mac> Mac::parse(std::string_view text) {
  if (text.size() != 17) return std::nullopt;
  Mac m;
  char sep = text[2];
  if (sep != ':' && sep != '-') return std::nullopt;
  for (size_t i = 0; i < 6; ++i) {
    if (i > 0 && text[i * 3 - 1] != sep) return std::nullopt;
    int hi = hex_digit(text[i * 3]);
    int lo = hex_digit(text[i * 3 + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    m.bytes[i] = static_cast<uint8_t>(hi * 16 + lo);
  }
  return m;
}

std::string Mac::str() const {
  char buf[18];
  std::snprintf(buf, sizeof buf, "%02x:%02x:%02x:%02x:%02x:%02x", bytes[0], bytes[1], bytes[2],
                bytes[3], bytes[4], bytes[5]);
  return buf;
}

bool Mac::is_zero() const {
  for (auto b : bytes)
    if (b != 0) return false;
  return true;
}

std::string_view to_string(Proto p) {
  return p == Proto::tcp ? "tcp" : "udp";
}

int protocol_number(Proto p) {
  return p == Proto::tcp ? 6 : 17;
}

std::optional<Proto> parse_proto(std::string_view text) {
  if (text == "tcp") return Proto::tcp;
  if (text == "udp") return Proto::udp;
  return std::nullopt;
}

std::optional<uint8_t> parse_dscp(std::string_view text) {
  if (auto n = parse_decimal(text, 63)) return static_cast<uint8_t>(*n);
  if (text == "ef") return 46;
  if (text == "le") return 1;
  if (text == "va") return 44;
  if (text.size() == 3 && text.substr(0, 2) == "cs" && text[2] >= '0' && text[2] <= '7')
    return static_cast<uint8_t>(8 * (text[2] - '0'));
  // afXY: class X (1-4), drop precedence Y (1-3) -> 8X + 2Y
  if (text.size() == 4 && text.substr(0, 2) == "af" && text[2] >= '1' && text[2] <= '4' &&
      text[3] >= '1' && text[3] <= '3')
    return static_cast<uint8_t>(8 * (text[2] - '0') + 2 * (text[3] - '0'));
  return std::nullopt;
}

std::optional<PortRange> PortRange::parse(std::string_view text) {
  auto dash = text.find('-');
  auto a = parse_decimal(text.substr(0, dash), 0xFFFFFFFFU);
  if (!a) return std::nullopt;
  if (dash == std::string_view::npos) return PortRange{*a, *a};
  auto b = parse_decimal(text.substr(dash + 1), 0xFFFFFFFFU);
  if (!b) return std::nullopt;
  return PortRange{*a, *b};
}

std::string PortRange::str() const {
  return first == last ? std::to_string(first) : std::to_string(first) + "-" + std::to_string(last);
}

bool is_valid_device_name(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-' || c == '.';
    if (!ok) return false;
  }
  return true;
}

bool is_valid_object_name(std::string_view name) {
  if (name.empty() || name.size() > 32) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (!alnum && (i == 0 || (c != '_' && c != '-'))) return false;
  }
  return true;
}

}  // namespace vmgw
