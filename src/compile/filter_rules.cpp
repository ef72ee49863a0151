#include "compile/filter_rules.h"

#include "nft/table.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

#include "filter/builtins.h"
#include "filter/values.h"

namespace vmgw::compile_detail {
namespace {

using filter::Attr;
using filter::ConcreteRule;
using filter::Protocol;
using nft::Json;

constexpr int kEtherIp = 0x0800, kEtherArp = 0x0806, kEtherRarp = 0x8035, kEtherVlan = 0x8100,
              kEtherIp6 = 0x86dd;

std::string lower(std::string s) {
  for (auto& c : s)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return s;
}

uint64_t number(const std::string& text) {
  return filter::parse_uint(text, true).value_or(0);
}

// Name or number -> number; validation guarantees one of the two.
int protocol_number(const std::string& v) {
  return static_cast<int>(filter::ip_protocol_value(v).value_or(0));
}
int ether_word(const std::string& v) {
  return static_cast<int>(filter::ether_type_value(v).value_or(0));
}
int arp_opcode(const std::string& v) {
  return static_cast<int>(filter::arp_opcode_value(v).value_or(0));
}

Json ether_type(int type) {
  return nft::match(nft::payload("ether", "type"), type);
}

Json op_match(Json left, Json right, const Attr& a) {
  return nft::match(std::move(left), std::move(right), a.match ? "==" : "!=");
}

// One protocol element of a rule: its attributes are rule.attrs[begin, end). A rule written
// with several elements ANDs them (rule_matches splits them).
struct ElementView {
  const ConcreteRule& rule;
  size_t begin = 0, end = 0;
  const Attr* find(std::string_view name) const {
    for (size_t i = begin; i < end; ++i)
      if (rule.attrs[i].name == name) return &rule.attrs[i];
    return nullptr;
  }
};

// Where the matches of a rule go: literal matches, or, for an exact field whose value is the
// VM's own, the rule's set key (while it fits in the kernel's registers).
struct Out {
  const ConcreteRule& rule;
  std::vector<Json>& m;
  std::vector<HoistedField>& fields;
  int budget;  // bytes left for the set key

  // Whether `field == value` for `a` goes to the set key: a positive match of a value of the
  // VM's own, on a field of a set type (`type`, nullptr for none), while the key has room.
  bool hoists(const Attr& a, const char* type) const {
    return type && a.per_vm && a.match && key_bytes_of(type) <= budget;
  }
  // `field == value` for attribute `a`, hoisted when hoists() says so.
  void exact(Json field, Json value, const Attr& a, const char* type) {
    if (hoists(a, type)) {
      budget -= key_bytes_of(type);
      fields.push_back({std::move(field), type, static_cast<size_t>(&a - rule.attrs.data())});
      return;
    }
    m.push_back(op_match(std::move(field), std::move(value), a));
  }
  void push(Json j) { m.push_back(std::move(j)); }
};

// Number of leading one bits if `bytes` is a contiguous mask, else -1.
int prefix_length(const unsigned char* bytes, std::size_t n) {
  int len = 0;
  std::size_t i = 0;
  for (; i < n && bytes[i] == 0xff; ++i) len += 8;
  if (i < n) {
    int ones = std::countl_one(bytes[i]);
    if (static_cast<unsigned char>(bytes[i] << ones) != 0) return -1;
    len += ones;
    for (++i; i < n; ++i)
      if (bytes[i] != 0) return -1;
  }
  return len;
}

// Address [& mask]: a prefix when the mask is contiguous, a bitwise and otherwise.
void ip_match(Out& o, Json field, const Attr& addr, const Attr* mask, bool v6) {
  if (!mask) {
    o.exact(std::move(field), addr.value, addr, v6 ? "ipv6_addr" : "ipv4_addr");
    return;
  }
  const int family = v6 ? AF_INET6 : AF_INET;
  const std::size_t n = v6 ? 16 : 4;
  std::array<unsigned char, 16> a{}, k{};
  inet_pton(family, addr.value.c_str(), a.data());
  int len = -1;
  if (mask->value.find_first_of(".:") == std::string::npos) {
    len = static_cast<int>(number(mask->value));
    for (std::size_t i = 0; i < n; ++i) {
      int bits = std::clamp(len - static_cast<int>(i) * 8, 0, 8);
      k[i] = static_cast<unsigned char>(0xff00 >> bits);
    }
  } else {
    inet_pton(family, mask->value.c_str(), k.data());
    len = prefix_length(k.data(), n);
  }
  for (std::size_t i = 0; i < n; ++i) a[i] &= k[i];
  char text[INET6_ADDRSTRLEN];
  inet_ntop(family, a.data(), text, sizeof text);
  if (len >= 0) {
    o.push(op_match(std::move(field), {{"prefix", {{"addr", text}, {"len", len}}}}, addr));
    return;
  }
  char mask_text[INET6_ADDRSTRLEN];
  inet_ntop(family, k.data(), mask_text, sizeof mask_text);
  o.push(op_match({{"&", Json::array({std::move(field), mask_text})}}, std::string(text), addr));
}

std::array<unsigned char, 6> mac_bytes(const std::string& s) {
  std::array<unsigned char, 6> b{};
  unsigned v[6] = {};
  if (std::sscanf(s.c_str(), "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6)
    for (int i = 0; i < 6; ++i) b[static_cast<std::size_t>(i)] = static_cast<unsigned char>(v[i]);
  return b;
}

std::string mac_text(const std::array<unsigned char, 6>& b) {
  char out[18];
  std::snprintf(out, sizeof out, "%02x:%02x:%02x:%02x:%02x:%02x", b[0], b[1], b[2], b[3], b[4],
                b[5]);
  return out;
}

void mac_match(Out& o, Json field, const Attr& addr, const Attr* mask) {
  auto a = mac_bytes(addr.value);
  if (!mask) {
    o.exact(std::move(field), mac_text(a), addr, "ether_addr");
    return;
  }
  auto k = mac_bytes(mask->value);
  for (std::size_t i = 0; i < 6; ++i) a[i] &= k[i];
  o.push(op_match({{"&", Json::array({std::move(field), mac_text(k)})}}, mac_text(a), addr));
}

// A start/end pair: start alone is exact, both a range, end alone 0..end. `type`: the field's
// type when a single value may be hoisted (ports), nullptr otherwise.
void range_match(Out& o, const Json& field, const Attr* start, const Attr* end,
                 const char* type = nullptr) {
  if (!start && !end) return;
  const Attr& a = start ? *start : *end;
  if (start && !end) {
    o.exact(field, number(start->value), a, type);
    return;
  }
  uint64_t lo = start ? number(start->value) : 0;
  o.push(op_match(field, nft::range(lo, number(end->value)), a));
}

// from/to: either bound may be absent.
void ip_range_match(Out& o, const Json& field, const Attr* from, const Attr* to, bool v6) {
  if (!from && !to) return;
  std::string lo = from ? from->value : (v6 ? "::" : "0.0.0.0");
  std::string hi =
      to ? to->value : (v6 ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "255.255.255.255");
  o.push(op_match(field, nft::range(lo, hi), from ? *from : *to));
}

uint32_t tcp_flag_bits(const std::string& list) {
  static constexpr std::array<std::pair<const char*, uint32_t>, 6> kFlags{
      {{"fin", 1}, {"syn", 2}, {"rst", 4}, {"psh", 8}, {"ack", 16}, {"urg", 32}}};
  std::string l = lower(list);
  if (l == "all") return 63;
  if (l == "none") return 0;
  uint32_t bits = 0;
  std::size_t start = 0;
  while (start <= l.size()) {
    std::size_t comma = l.find(',', start);
    std::string f = l.substr(start, comma == std::string::npos ? comma : comma - start);
    for (const auto& [name, b] : kFlags)
      if (f == name) bits |= b;
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return bits;
}

// Raw fields of an ARP/RARP header, by offset and length in bits from the network header (nft
// has no payload names for RARP, so both use raw offsets and mean exactly the same).
Json nh(int offset, int len) {
  return {{"payload", {{"base", "nh"}, {"offset", offset}, {"len", len}}}};
}

uint64_t ipv4_number(const std::string& text) {
  in_addr a{};
  inet_pton(AF_INET, text.c_str(), &a);
  return ntohl(a.s_addr);
}

uint64_t mac_number(const std::string& text) {
  uint64_t v = 0;
  for (auto b : mac_bytes(text)) v = (v << 8) | b;
  return v;
}

// An exact ARP/RARP address field: raw when it names its value, typed (`arp saddr ether`, the
// same bytes: RARP has ARP's layout) when the value is hoisted into a set, since a set's key
// needs a type and a raw field has none.
void arp_exact(Out& o, int offset, const char* typed, const Attr& a, bool mac, bool hoistable) {
  const char* type = mac ? "ether_addr" : "ipv4_addr";
  if (hoistable && o.hoists(a, type)) {
    o.exact(nft::payload("arp", typed), mac ? Json(mac_text(mac_bytes(a.value))) : Json(a.value), a,
            type);
    return;
  }
  o.push(op_match(nh(offset, mac ? 48 : 32), mac ? mac_number(a.value) : ipv4_number(a.value), a));
}

void arp_ip_match(Out& o, int offset, const char* typed, const Attr& addr, const Attr* mask,
                  bool hoistable) {
  if (!mask) {
    arp_exact(o, offset, typed, addr, false, hoistable);
    return;
  }
  uint64_t a = ipv4_number(addr.value);
  uint64_t k =
      mask->value.find('.') == std::string::npos
          ? (0xffffffffULL << (32 - std::min<uint64_t>(number(mask->value), 32))) & 0xffffffffULL
          : ipv4_number(mask->value);
  o.push(op_match({{"&", Json::array({nh(offset, 32), k})}}, a & k, addr));
}

void arp_matches(Out& o, const ElementView& r) {
  auto f = [&r](const char* n) { return r.find(n); };
  // Gratuitous: sender IP == target IP. nftables cannot compare two fields, so the target is
  // matched against the sender address the rule names (instantiation requires one), which then
  // stays in the rule. 'false' adds no condition, as in libvirt.
  const Attr* g = f("gratuitous");
  const bool gratuitous = g && filter::parse_bool(g->value).value_or(false);
  if (auto* a = f("hwtype")) o.push(op_match(nh(0, 16), number(a->value), *a));
  if (auto* a = f("protocoltype")) o.push(op_match(nh(16, 16), number(a->value), *a));
  if (auto* a = f("opcode")) o.push(op_match(nh(48, 16), arp_opcode(a->value), *a));
  if (auto* a = f("arpsrcmacaddr")) arp_exact(o, 64, "saddr ether", *a, true, true);
  if (auto* a = f("arpsrcipaddr"))
    arp_ip_match(o, 112, "saddr ip", *a, f("arpsrcipmask"), !gratuitous);
  if (auto* a = f("arpdstmacaddr")) arp_exact(o, 144, "daddr ether", *a, true, true);
  if (auto* a = f("arpdstipaddr")) arp_ip_match(o, 192, "daddr ip", *a, f("arpdstipmask"), true);
  if (gratuitous) {
    if (auto* src = f("arpsrcipaddr"))
      o.push(nft::match(nh(192, 32), ipv4_number(src->value), g->match ? "==" : "!="));
  }
}

void mac_fields(Out& o, const ElementView& r) {
  if (auto* a = r.find("srcmacaddr"))
    mac_match(o, nft::payload("ether", "saddr"), *a, r.find("srcmacmask"));
  if (auto* a = r.find("dstmacaddr"))
    mac_match(o, nft::payload("ether", "daddr"), *a, r.find("dstmacmask"));
}

// The l4 protocol an element implies (0 for ip, ipv6, all).
int implied_l4(Protocol p) {
  switch (p) {
    case Protocol::tcp:
    case Protocol::tcp_ipv6:
      return 6;
    case Protocol::udp:
    case Protocol::udp_ipv6:
      return 17;
    case Protocol::udplite:
    case Protocol::udplite_ipv6:
      return 136;
    case Protocol::sctp:
    case Protocol::sctp_ipv6:
      return 132;
    case Protocol::icmp:
      return 1;
    case Protocol::icmpv6:
      return 58;
    case Protocol::igmp:
      return 2;
    case Protocol::esp:
    case Protocol::esp_ipv6:
      return 50;
    case Protocol::ah:
    case Protocol::ah_ipv6:
      return 51;
    default:
      return 0;
  }
}

void ip_fields(Out& o, const ElementView& r, bool v6) {
  const std::string fam = v6 ? "ip6" : "ip";
  if (auto* a = r.find("srcipaddr"))
    ip_match(o, nft::payload(fam, "saddr"), *a, r.find("srcipmask"), v6);
  if (auto* a = r.find("dstipaddr"))
    ip_match(o, nft::payload(fam, "daddr"), *a, r.find("dstipmask"), v6);
  ip_range_match(o, nft::payload(fam, "saddr"), r.find("srcipfrom"), r.find("srcipto"), v6);
  ip_range_match(o, nft::payload(fam, "daddr"), r.find("dstipfrom"), r.find("dstipto"), v6);
  if (auto* a = r.find("dscp")) o.push(op_match(nft::payload(fam, "dscp"), number(a->value), *a));
}

bool has_ports(const ElementView& r) {
  for (const char* n : {"srcportstart", "srcportend", "dstportstart", "dstportend"})
    if (r.find(n)) return true;
  return false;
}

void port_fields(Out& o, const ElementView& r, int l4) {
  if (!has_ports(r)) return;
  // Ports exist only in TCP, UDP, UDP-Lite and SCTP headers (all at the same offsets).
  if (l4 == 0) o.push(nft::match(nft::meta("l4proto"), nft::anonymous_set({6, 17, 132, 136})));
  range_match(o, nft::payload("th", "sport"), r.find("srcportstart"), r.find("srcportend"),
              "inet_service");
  range_match(o, nft::payload("th", "dport"), r.find("dstportstart"), r.find("dstportend"),
              "inet_service");
}

// Returns false if the rule can never match.
bool l3_fields(Out& o, const ElementView& r, bool v6, int l4) {
  if (auto* a = r.find("srcmacaddr")) mac_match(o, nft::payload("ether", "saddr"), *a, nullptr);
  ip_fields(o, r, v6);
  if (auto* a = r.find("state")) {
    std::vector<Json> states;
    std::string v = lower(a->value);
    if (v == "none") {
      if (a->match) return false;
    } else {
      std::size_t start = 0;
      for (;;) {
        std::size_t comma = v.find(',', start);
        states.push_back(v.substr(start, comma == std::string::npos ? comma : comma - start));
        if (comma == std::string::npos) break;
        start = comma + 1;
      }
      o.push(nft::match(nft::ct("state"), Json(states), a->match ? "in" : "!="));
    }
  }
  if (auto* a = r.find("connlimit-above"))
    o.push({{"ct count", {{"val", number(a->value)}, {"inv", a->match}}}});
  port_fields(o, r, l4);
  if (auto* a = r.find("flags")) {
    auto slash = a->value.find('/');
    uint32_t mask = tcp_flag_bits(a->value.substr(0, slash));
    uint32_t set = slash == std::string::npos ? mask : tcp_flag_bits(a->value.substr(slash + 1));
    o.push(op_match({{"&", Json::array({nft::payload("tcp", "flags"), mask})}}, set, *a));
  }
  const std::string icmp = v6 ? "icmpv6" : "icmp";
  if (auto* a = r.find("type")) o.push(op_match(nft::payload(icmp, "type"), number(a->value), *a));
  if (auto* a = r.find("code")) o.push(op_match(nft::payload(icmp, "code"), number(a->value), *a));
  return true;
}

}  // namespace

std::vector<Json> chain_guard(const std::string& chain) {
  std::string prefix = chain.substr(0, chain.find('-'));
  if (prefix == "stp") return {nft::match(nft::payload("ether", "daddr"), "01:80:c2:00:00:00")};
  if (prefix == "vlan") return {ether_type(kEtherVlan)};
  if (prefix == "ipv4") return {ether_type(kEtherIp)};
  if (prefix == "ipv6") return {ether_type(kEtherIp6)};
  if (prefix == "arp") return {ether_type(kEtherArp)};
  if (prefix == "rarp") return {ether_type(kEtherRarp)};
  return {};  // mac: every frame
}

namespace {

// Returns false if the element can never match.
bool element_matches(Out& o, const ElementView& r) {
  if (!r.rule.protocol) return true;
  const Protocol p = *r.rule.protocol;
  switch (p) {
    case Protocol::mac:
      mac_fields(o, r);
      if (auto* a = r.find("protocolid"))
        o.push(op_match(nft::payload("ether", "type"), ether_word(a->value), *a));
      return true;
    case Protocol::vlan:
      o.push(ether_type(kEtherVlan));
      mac_fields(o, r);
      if (auto* a = r.find("vlanid"))
        o.push(op_match(nft::payload("vlan", "id"), number(a->value), *a));
      if (auto* a = r.find("encap-protocol"))
        o.push(op_match(nft::payload("vlan", "type"), ether_word(a->value), *a));
      return true;
    case Protocol::stp: {
      o.push(nft::match(nft::payload("ether", "daddr"), "01:80:c2:00:00:00"));
      if (auto* a = r.find("srcmacaddr"))
        mac_match(o, nft::payload("ether", "saddr"), *a, r.find("srcmacmask"));
      // BPDU type and flags: bytes 3 and 4 of the BPDU, after the 3-byte LLC header.
      Json ll_type = {{"payload", {{"base", "ll"}, {"offset", 160}, {"len", 8}}}};
      Json ll_flags = {{"payload", {{"base", "ll"}, {"offset", 168}, {"len", 8}}}};
      if (auto* a = r.find("type")) o.push(op_match(ll_type, number(a->value), *a));
      if (auto* a = r.find("flags")) o.push(op_match(ll_flags, number(a->value), *a));
      return true;
    }
    case Protocol::arp:
    case Protocol::rarp:
      o.push(ether_type(p == Protocol::arp ? kEtherArp : kEtherRarp));
      mac_fields(o, r);
      arp_matches(o, r);
      return true;
    case Protocol::ip:
    case Protocol::ipv6: {
      const bool v6 = p == Protocol::ipv6;
      o.push(ether_type(v6 ? kEtherIp6 : kEtherIp));
      mac_fields(o, r);
      ip_fields(o, r, v6);
      int l4 = 0;
      if (auto* a = r.find("protocol")) {
        l4 = protocol_number(a->value);
        o.push(op_match(nft::meta("l4proto"), l4, *a));
        if (!a->match) l4 = 0;
      }
      port_fields(o, r, l4);
      if (v6) {
        bool icmp = r.find("type") || r.find("code");
        if (icmp && l4 != 58) o.push(nft::match(nft::meta("l4proto"), 58));
        range_match(o, nft::payload("icmpv6", "type"), r.find("type"), r.find("typeend"));
        range_match(o, nft::payload("icmpv6", "code"), r.find("code"), r.find("codeend"));
      }
      return true;
    }
    default: {
      const bool v6 = is_ipv6(p);
      const int l4 = implied_l4(p);
      o.push(nft::match(nft::meta("nfproto"), v6 ? "ipv6" : "ipv4"));
      if (l4 != 0) o.push(nft::match(nft::meta("l4proto"), l4));
      return l3_fields(o, r, v6, l4);
    }
  }
}

}  // namespace

int key_bytes_of(const std::string& type) {
  if (type == "ifname" || type == "ipv6_addr") return 16;
  if (type == "ether_addr") return 8;
  return 4;  // ipv4_addr, inet_service (2 bytes in a 4-byte register)
}

Json hoisted_value(const std::string& type, const std::string& text) {
  if (type == "ether_addr") return mac_text(mac_bytes(text));
  if (type == "inet_service") return number(text);
  return text;
}

// A rule written with several protocol elements ANDs them: their attributes arrive as one list,
// and an attribute name seen again starts the next element.
std::optional<CompiledRule> compile_rule(const ConcreteRule& r, int key_bytes) {
  std::vector<ElementView> elements{{r, 0, 0}};
  for (size_t i = 0; i < r.attrs.size(); ++i) {
    auto& cur = elements.back();
    if (cur.find(r.attrs[i].name)) elements.push_back({r, i, i});
    elements.back().end = i + 1;
  }
  CompiledRule out;
  int budget = key_bytes;
  for (const auto& e : elements) {
    std::vector<Json> m;
    std::vector<HoistedField> fields;
    Out o{r, m, fields, budget};
    if (!element_matches(o, e)) return std::nullopt;
    budget = o.budget;
    for (auto& x : m)
      if (std::find(out.matches.begin(), out.matches.end(), x) == out.matches.end())
        out.matches.push_back(std::move(x));
    for (auto& f : fields) out.fields.push_back(std::move(f));
  }
  return out;
}

std::string program_origin(const ConcreteRule& r) {
  const std::string top = r.origin.substr(0, r.origin.find_first_of("/ "));
  if (r.binding == 0 || filter::is_builtin(top)) return r.origin;
  return "filter " + std::to_string(r.binding) + r.origin.substr(top.size());
}

std::string own_origin(const std::string& origin, const std::vector<std::string>& binding_filters) {
  constexpr std::string_view kFilter = "filter ";
  if (origin.compare(0, kFilter.size(), kFilter) != 0) return origin;
  size_t end = kFilter.size();
  size_t n = 0;
  while (end < origin.size() && origin[end] >= '0' && origin[end] <= '9')
    n = n * 10 + static_cast<size_t>(origin[end++] - '0');
  if (end == kFilter.size() || n == 0 || n > binding_filters.size()) return origin;
  return binding_filters[n - 1] + origin.substr(end);
}

RuleEnd rule_statements(const ConcreteRule& r, filter::Direction d, const DropLogLimit& limit,
                        bool counted) {
  LogEnd end;
  switch (r.action) {
    case filter::Action::accept:
      end.verdict.push_back(nft::accept());
      break;
    case filter::Action::drop:
      end.verdict.push_back(nft::drop());
      break;
    case filter::Action::reject: {
      if (r.layer == filter::Layer::l2) {  // see filter_rule() in vm_filters.cpp
        end.verdict.push_back(nft::drop());
        break;
      }
      bool tcp = r.protocol == Protocol::tcp || r.protocol == Protocol::tcp_ipv6;
      if (auto* a = r.find("protocol"); a && a->match && protocol_number(a->value) == 6) tcp = true;
      // A TCP reset for TCP, an ICMP(v6) unreachable for other IP; frames that are not IP are
      // dropped (nothing can be sent back for them). See docs/filters.md.
      if (tcp)
        end.verdict.push_back({{"reject", {{"type", "tcp reset"}}}});
      else
        end.verdict.push_back({{"reject", {{"type", "icmpx"}, {"expr", "port-unreachable"}}}});
      break;
    }
    case filter::Action::return_:
      end.leave_chain = true;
      break;
    case filter::Action::continue_:
      break;  // counted (and logged), then the next rule
  }
  RuleEnd out;
  if (counted) out.statements.push_back(nft::counter());
  if (!r.log) {
    for (auto& v : end.verdict) out.statements.push_back(std::move(v));
    if (end.leave_chain) out.statements.push_back(nft::return_());
    return out;
  }
  const NftTable table = r.layer == filter::Layer::l2 ? NftTable::bridge : NftTable::inet;
  const std::string prefix = log_prefix(std::string(filter::to_string(r.action)),
                                        std::string(filter::to_string(d)), program_origin(r));
  const std::string name = log_chain_name(table, prefix, end, limit);
  out.statements.push_back(enter_log_chain(name, end));
  out.log_chain = log_chain(name, table, prefix, end, limit);
  return out;
}

}  // namespace vmgw::compile_detail
