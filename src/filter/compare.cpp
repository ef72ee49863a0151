#include "filter/compare.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <map>
#include <span>
#include <utility>
#include <variant>

#include "filter/attributes.h"
#include "filter/values.h"

namespace vmgw::filter {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

// An address as inet_ntop writes it ("FE80::" is "fe80::"), or nullopt if it is not one.
std::optional<std::string> address_text(int family, std::string_view s) {
  std::array<unsigned char, 16> bytes{};
  std::array<char, INET6_ADDRSTRLEN> text{};
  const std::string z(s);
  if (inet_pton(family, z.c_str(), bytes.data()) != 1) return std::nullopt;
  if (!inet_ntop(family, bytes.data(), text.data(), text.size())) return std::nullopt;
  return std::string(text.data());
}

// A mask as its prefix length: "255.255.0.0" and "16" are one mask.
std::optional<std::string> mask_text(int family, std::string_view s) {
  if (auto n = parse_uint(s, false)) return std::to_string(*n);
  std::array<unsigned char, 16> bytes{};
  const std::string z(s);
  if (inet_pton(family, z.c_str(), bytes.data()) != 1) return std::nullopt;
  int bits = 0;
  for (unsigned char b : bytes) bits += std::popcount(b);
  return std::to_string(bits);  // masks are contiguous (the parser checks)
}

// "0:1a:2:3:4:5" and "00:1A:02:03:04:05" are one MAC address.
std::string mac_text(std::string_view s) {
  std::string out;
  std::size_t start = 0;
  while (start <= s.size()) {
    std::size_t end = std::min(s.find(':', start), s.size());
    std::string part = lower(s.substr(start, end - start));
    out += (out.empty() ? "" : ":") + (part.size() == 1 ? "0" + part : part);
    start = end + 1;
  }
  return out;
}

// One spelling per meaning, for comparing: the value's number when the attribute takes names
// for numbers, the canonical text of addresses and masks, lower-case words.
std::string canonical(Protocol p, const std::string& name, const AttrValue& v) {
  if (v.var) return v.var->str();
  std::string_view s = v.raw;
  std::optional<uint64_t> number;
  if (name == "protocolid" || name == "encap-protocol") number = ether_type_value(s);
  if (name == "protocol" && (p == Protocol::ip || p == Protocol::ipv6))
    number = ip_protocol_value(s);
  if (name == "opcode") number = arp_opcode_value(s);
  if (number) return std::to_string(*number);
  const AttrSpec* spec = find_attribute(p, name);
  if (!spec) return v.raw;
  switch (spec->type) {
    case ValueType::mac_addr:
    case ValueType::mac_mask:
      return mac_text(s);
    case ValueType::ipv4_addr:
      return address_text(AF_INET, s).value_or(v.raw);
    case ValueType::ipv6_addr:
      return address_text(AF_INET6, s).value_or(v.raw);
    case ValueType::ipv4_mask:
      return mask_text(AF_INET, s).value_or(v.raw);
    case ValueType::ipv6_mask:
      return mask_text(AF_INET6, s).value_or(v.raw);
    case ValueType::uint:
    case ValueType::uint_or_word:
      if (auto n = parse_uint(s, true)) return std::to_string(*n);
      return lower(s);
    case ValueType::boolean:
      if (auto b = parse_bool(s)) return *b ? "true" : "false";
      return v.raw;
    case ValueType::state_list:
    case ValueType::tcp_flags:
      return upper(s);
    case ValueType::ipset_flags:
      return lower(s);
    case ValueType::string:
    case ValueType::ipset_name:
      return v.raw;
  }
  return v.raw;
}

std::string quoted(const std::string& s) {
  return "'" + s + "'";
}

std::string instead(const std::string& what, const std::string& mine, const std::string& theirs) {
  return what + " " + mine + " instead of " + theirs;
}

// An attribute as compared (whether it matches, its canonical value) and as written.
struct Compared {
  bool match = true;
  std::string canonical;
  std::string written;
};
using Attributes = std::map<std::string, Compared>;

Attributes attributes_of(const ProtocolMatch& m) {
  Attributes out;
  for (const auto& [name, value] : m.attributes)
    out[name] = {value.match, canonical(m.protocol, name, value), value.raw};
  return out;
}

std::optional<std::string> element_difference(const ProtocolMatch& a, const ProtocolMatch& b) {
  if (a.protocol != b.protocol)
    return instead("element", "<" + std::string(to_string(a.protocol)) + ">",
                   "<" + std::string(to_string(b.protocol)) + ">");
  if (a.negated() != b.negated())
    return instead("match", a.negated() ? "'no'" : "'yes'", b.negated() ? "'no'" : "'yes'");
  const Attributes x = attributes_of(a), y = attributes_of(b);
  for (const auto& [name, value] : x) {
    auto it = y.find(name);
    if (it == y.end()) return name + " " + quoted(value.written) + " where the other has none";
    if (it->second.canonical != value.canonical)
      return instead(name, quoted(value.written), quoted(it->second.written));
    if (it->second.match != value.match) return name + ": negated in one only";
  }
  for (const auto& [name, value] : y)
    if (!x.contains(name)) return "no " + name + " where the other has " + quoted(value.written);
  return std::nullopt;
}

// The elements of a rule that say something: a lone <mac/> without attributes matches every
// frame, as a rule without element does (libvirt's no-mac-spoofing ends with one; vmgw's
// built-in has none, and its rules and their chain names stay as they are).
std::span<const ProtocolMatch> elements(const Rule& r) {
  if (r.matches.size() == 1 && r.matches[0].protocol == Protocol::mac &&
      r.matches[0].attributes.empty() && !r.matches[0].negated())
    return {};
  return r.matches;
}

std::optional<std::string> rule_difference(const Rule& a, const Rule& b) {
  if (a.action != b.action)
    return instead("action", quoted(std::string(to_string(a.action))),
                   quoted(std::string(to_string(b.action))));
  if (a.direction != b.direction)
    return instead("direction", quoted(std::string(to_string(a.direction))),
                   quoted(std::string(to_string(b.direction))));
  if (a.effective_priority() != b.effective_priority())
    return instead("priority", std::to_string(a.effective_priority()),
                   std::to_string(b.effective_priority()));
  if (a.effective_statematch() != b.effective_statematch())
    return instead("statematch", a.effective_statematch() ? "'true'" : "'false'",
                   b.effective_statematch() ? "'true'" : "'false'");
  if (a.logs() != b.logs())
    return instead("log", a.logs() ? "'yes'" : "'no'", b.logs() ? "'yes'" : "'no'");
  const auto x = elements(a), y = elements(b);
  if (x.size() != y.size())
    return instead("protocol elements:", std::to_string(x.size()), std::to_string(y.size()));
  for (std::size_t i = 0; i < x.size(); ++i)
    if (auto d = element_difference(x[i], y[i])) return d;
  return std::nullopt;
}

std::optional<std::string> ref_difference(const FilterRef& a, const FilterRef& b) {
  if (a.filter != b.filter) return instead("filter", quoted(a.filter), quoted(b.filter));
  if (a.parameters != b.parameters) return std::string("its parameters differ");
  return std::nullopt;
}

}  // namespace

std::optional<std::string> first_difference(const Filter& mine, const Filter& theirs) {
  if (mine.name != theirs.name) return instead("name", quoted(mine.name), quoted(theirs.name));
  if (mine.effective_chain() != theirs.effective_chain())
    return instead("chain", quoted(mine.effective_chain()), quoted(theirs.effective_chain()));
  if (mine.effective_priority() != theirs.effective_priority())
    return instead("chain priority", std::to_string(mine.effective_priority()),
                   std::to_string(theirs.effective_priority()));
  int rules = 0, refs = 0;
  const std::size_t n = std::min(mine.entries.size(), theirs.entries.size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto* rule = std::get_if<Rule>(&mine.entries[i]);
    const auto* other_rule = std::get_if<Rule>(&theirs.entries[i]);
    const std::string at = rule ? "rule[" + std::to_string(++rules) + "]"
                                : "filterref[" + std::to_string(++refs) + "]";
    if ((rule == nullptr) != (other_rule == nullptr))
      return "entry " + std::to_string(i + 1) + ": " +
             (rule ? "a rule instead of a filterref" : "a filterref instead of a rule");
    auto d = rule ? rule_difference(*rule, *other_rule)
                  : ref_difference(std::get<FilterRef>(mine.entries[i]),
                                   std::get<FilterRef>(theirs.entries[i]));
    if (d) return at + ": " + *d;
  }
  if (mine.entries.size() != theirs.entries.size())
    return instead("entries (rules and filterrefs):", std::to_string(mine.entries.size()),
                   std::to_string(theirs.entries.size()));
  return std::nullopt;
}

}  // namespace vmgw::filter
