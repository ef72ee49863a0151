#include "filter/values.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace vmgw::filter {

namespace {

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_hex(char c) {
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  for (;;) {
    std::size_t pos = s.find(sep, start);
    out.push_back(s.substr(start, pos == std::string_view::npos ? pos : pos - start));
    if (pos == std::string_view::npos) return out;
    start = pos + 1;
  }
}

bool is_mac(std::string_view s) {
  auto parts = split(s, ':');
  if (parts.size() != 6) return false;
  for (auto p : parts) {
    if (p.empty() || p.size() > 2) return false;
    for (char c : p)
      if (!is_hex(c)) return false;
  }
  return true;
}

template <std::size_t N>
bool pton(int family, std::string_view s, std::array<uint8_t, N>& out) {
  if (s.empty() || s.size() > 64) return false;
  std::string z(s);
  return inet_pton(family, z.c_str(), out.data()) == 1;
}

// A mask is contiguous when its bits are ones followed by zeros.
template <std::size_t N>
bool contiguous(const std::array<uint8_t, N>& bytes) {
  bool zero_seen = false;
  for (uint8_t b : bytes)
    for (int bit = 7; bit >= 0; --bit) {
      bool one = ((b >> bit) & 1U) != 0;
      if (one && zero_seen) return false;
      if (!one) zero_seen = true;
    }
  return true;
}

template <std::size_t N>
std::string check_mask(int family, std::string_view s, uint32_t max_prefix, const char* what) {
  if (!s.empty() && s.size() <= 3 && std::all_of(s.begin(), s.end(), is_digit)) {
    auto v = parse_uint(s, false);
    if (v && *v <= max_prefix) return "";
    return quoted(s) + " is out of range 0-" + std::to_string(max_prefix);
  }
  std::array<uint8_t, N> bytes{};
  if (!pton(family, s, bytes))
    return quoted(s) + " is not " + what + " mask (a prefix length 0-" +
           std::to_string(max_prefix) + " or an address form)";
  if (!contiguous(bytes)) return quoted(s) + " is not a contiguous mask";
  return "";
}

std::string check_word_list(std::string_view s, std::span<const std::string_view> words,
                            const char* what) {
  for (auto item : split(s, ',')) {
    bool ok = false;
    for (auto w : words) ok = ok || iequals(item, w);
    if (!ok) {
      std::string list;
      for (auto w : words) list += (list.empty() ? "" : ", ") + std::string(w);
      return quoted(item) + " is not " + what + " (one of " + list + ")";
    }
  }
  return "";
}

constexpr std::array<std::string_view, 5> kStates{"NEW", "ESTABLISHED", "RELATED", "INVALID",
                                                  "NONE"};
constexpr std::array<std::string_view, 8> kTcpFlags{"SYN", "ACK", "URG",  "PSH",
                                                    "FIN", "RST", "NONE", "ALL"};
constexpr std::array<std::string_view, 2> kIpsetDirs{"src", "dst"};
constexpr std::size_t kMaxIpsetName = 31;
constexpr std::size_t kMaxIpsetFlags = 6;

}  // namespace

bool is_variable_name(std::string_view s) {
  if (s.empty() || is_digit(s[0])) return false;
  for (char c : s)
    if (!is_alpha(c) && !is_digit(c) && c != '_') return false;
  return true;
}

std::optional<uint64_t> parse_uint(std::string_view text, bool hex_ok) {
  int base = 10;
  if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) {
    if (!hex_ok) return std::nullopt;
    base = 16;
    text.remove_prefix(2);
  }
  if (text.empty() || text.size() > 16) return std::nullopt;
  uint64_t v = 0;
  for (char c : text) {
    uint64_t d;
    if (is_digit(c))
      d = static_cast<uint64_t>(c - '0');
    else if (base == 16 && c >= 'a' && c <= 'f')
      d = static_cast<uint64_t>(c - 'a' + 10);
    else if (base == 16 && c >= 'A' && c <= 'F')
      d = static_cast<uint64_t>(c - 'A' + 10);
    else
      return std::nullopt;
    v = v * static_cast<uint64_t>(base) + d;
  }
  return v;
}

std::optional<bool> parse_bool(std::string_view t) {
  if (t == "true" || t == "yes" || t == "1") return true;
  if (t == "false" || t == "no" || t == "0") return false;
  return std::nullopt;
}

std::optional<VariableRef> parse_variable_ref(std::string_view text, std::string& error) {
  error.clear();
  if (text.empty() || text[0] != '$') return std::nullopt;
  auto bad = [&](const std::string& why) -> std::optional<VariableRef> {
    error = quoted(text) + " is not a valid variable reference (" + why + ")";
    return std::nullopt;
  };
  // libvirt (virNWFilterVarAccessParse) skips blanks after '[', after '@' and before ']', and
  // its own test filters have blanks after ']': `$A[ 0]` and `$B[  @0 ] ` are valid there.
  auto is_blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  auto skip_blanks = [&](std::string_view s) {
    while (!s.empty() && is_blank(s.front())) s.remove_prefix(1);
    return s;
  };
  std::string_view rest = text.substr(1);
  std::size_t bracket = rest.find('[');
  VariableRef ref;
  ref.name = std::string(rest.substr(0, bracket));
  if (!is_variable_name(ref.name)) return bad("names use letters, digits and '_'");
  if (bracket == std::string_view::npos) return ref;
  std::string_view sub = rest.substr(bracket + 1);
  std::size_t close = sub.find(']');
  if (close == std::string_view::npos) return bad("expected ']' at the end");
  if (!skip_blanks(sub.substr(close + 1)).empty()) return bad("nothing may follow ']'");
  sub = skip_blanks(sub.substr(0, close));
  while (!sub.empty() && is_blank(sub.back())) sub.remove_suffix(1);
  ref.access = VariableRef::Access::index;
  if (!sub.empty() && sub[0] == '@') {
    ref.access = VariableRef::Access::iterator;
    sub = skip_blanks(sub.substr(1));
  }
  if (sub.empty() || sub.size() > 9 || !std::all_of(sub.begin(), sub.end(), is_digit))
    return bad("expected $NAME[n] or $NAME[@n] with a decimal n");
  ref.number = static_cast<uint32_t>(*parse_uint(sub, false));
  if (ref.access == VariableRef::Access::iterator) {
    if (ref.number > kMaxIteratorId)
      return bad("iterator ids go up to " + std::to_string(kMaxIteratorId));
    // $A[@0] is $A: both are iterator 0, and libvirt writes both back as $A.
    if (ref.number == 0) ref.access = VariableRef::Access::plain;
  }
  return ref;
}

std::string check_literal(const AttrSpec& spec, std::string_view s) {
  switch (spec.type) {
    case ValueType::mac_addr:
    case ValueType::mac_mask:
      if (is_mac(s)) return "";
      return quoted(s) + " is not a MAC " +
             (spec.type == ValueType::mac_addr ? "address" : "mask") + " (like 52:54:00:12:34:56)";
    case ValueType::ipv4_addr: {
      std::array<uint8_t, 4> b{};
      return pton(AF_INET, s, b) ? "" : quoted(s) + " is not an IPv4 address";
    }
    case ValueType::ipv6_addr: {
      std::array<uint8_t, 16> b{};
      return pton(AF_INET6, s, b) ? "" : quoted(s) + " is not an IPv6 address";
    }
    case ValueType::ipv4_mask:
      return check_mask<4>(AF_INET, s, 32, "an IPv4");
    case ValueType::ipv6_mask:
      return check_mask<16>(AF_INET6, s, 128, "an IPv6");
    case ValueType::uint_or_word:
      for (auto w : spec.words)
        if (iequals(s, w)) return "";
      [[fallthrough]];
    case ValueType::uint: {
      auto v = parse_uint(s, spec.hex);
      std::string range = std::to_string(spec.min) + "-" + std::to_string(spec.max);
      if (!v) {
        std::string why = quoted(s) + " is not a number" + (spec.hex ? " (decimal or 0x hex)" : "");
        if (!spec.words.empty()) {
          std::string list;
          for (auto w : spec.words) list += (list.empty() ? "" : ", ") + std::string(w);
          why = quoted(s) + " is neither a number nor one of " + list;
        }
        return why;
      }
      if (*v < spec.min || *v > spec.max) return quoted(s) + " is out of range " + range;
      return "";
    }
    case ValueType::boolean:
      return parse_bool(s) ? "" : quoted(s) + " is not a boolean (true, yes, 1, false, no, 0)";
    case ValueType::string:
      if (s.size() > spec.max)
        return "text is longer than " + std::to_string(spec.max) + " characters";
      return "";
    case ValueType::state_list:
      return check_word_list(s, kStates, "a connection state");
    case ValueType::tcp_flags: {
      auto parts = split(s, '/');
      if (parts.size() != 2) return quoted(s) + " is not mask/flags (like SYN,ACK/SYN)";
      for (auto p : parts)
        if (auto e = check_word_list(p, kTcpFlags, "a TCP flag"); !e.empty()) return e;
      return "";
    }
    case ValueType::ipset_name:
      if (s.empty() || s.size() > kMaxIpsetName)
        return "an ipset name has 1 to " + std::to_string(kMaxIpsetName) + " characters";
      for (char c : s)
        if (!is_alpha(c) && !is_digit(c) && c != '_' && c != '.' && c != ':' && c != '-' &&
            c != '+')
          return quoted(s) + " is not a valid ipset name";
      return "";
    case ValueType::ipset_flags: {
      auto parts = split(s, ',');
      if (parts.size() > kMaxIpsetFlags) return quoted(s) + " has more than 6 src/dst flags";
      return check_word_list(s, kIpsetDirs, "an ipset flag");
    }
  }
  return "";
}

namespace {

// A word (case-insensitive) from `words` or a number.
template <std::size_t N>
std::optional<uint64_t> word_or_number(
    std::string_view s, const std::array<std::pair<std::string_view, uint64_t>, N>& words) {
  for (const auto& [w, v] : words)
    if (iequals(s, w)) return v;
  return parse_uint(s, true);
}

constexpr std::array<std::pair<std::string_view, uint64_t>, 4> kEtherTypes{
    {{"arp", 0x0806}, {"rarp", 0x8035}, {"ipv4", 0x0800}, {"ipv6", 0x86dd}}};

constexpr std::array<std::pair<std::string_view, uint64_t>, 9> kIpProtocols{{{"tcp", 6},
                                                                             {"udp", 17},
                                                                             {"udplite", 136},
                                                                             {"esp", 50},
                                                                             {"ah", 51},
                                                                             {"icmp", 1},
                                                                             {"igmp", 2},
                                                                             {"sctp", 132},
                                                                             {"icmpv6", 58}}};

// The wire values of ARP operations (RFC 826, 903, 1931, 2390; IANA): nft matches these, so
// ARP_NAK is 10 (ebtables' own table would say 9), InARP_Request 8.
constexpr std::array<std::pair<std::string_view, uint64_t>, 9> kArpOpcodes{{{"Request", 1},
                                                                            {"Reply", 2},
                                                                            {"Request_Reverse", 3},
                                                                            {"Reply_Reverse", 4},
                                                                            {"DRARP_Request", 5},
                                                                            {"DRARP_Reply", 6},
                                                                            {"DRARP_Error", 7},
                                                                            {"InARP_Request", 8},
                                                                            {"ARP_NAK", 10}}};

}  // namespace

std::optional<uint64_t> ether_type_value(std::string_view text) {
  return word_or_number(text, kEtherTypes);
}
std::optional<uint64_t> ip_protocol_value(std::string_view text) {
  return word_or_number(text, kIpProtocols);
}
std::optional<uint64_t> arp_opcode_value(std::string_view text) {
  return word_or_number(text, kArpOpcodes);
}

}  // namespace vmgw::filter
