#include "compile/filter_rules.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>

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
void ip_match(std::vector<Json>& m, Json field, const Attr& addr, const Attr* mask, bool v6) {
  if (!mask) {
    m.push_back(op_match(std::move(field), addr.value, addr));
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
    m.push_back(op_match(std::move(field), {{"prefix", {{"addr", text}, {"len", len}}}}, addr));
    return;
  }
  char mask_text[INET6_ADDRSTRLEN];
  inet_ntop(family, k.data(), mask_text, sizeof mask_text);
  m.push_back(
      op_match({{"&", Json::array({std::move(field), mask_text})}}, std::string(text), addr));
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

void mac_match(std::vector<Json>& m, Json field, const Attr& addr, const Attr* mask) {
  auto a = mac_bytes(addr.value);
  if (!mask) {
    m.push_back(op_match(std::move(field), mac_text(a), addr));
    return;
  }
  auto k = mac_bytes(mask->value);
  for (std::size_t i = 0; i < 6; ++i) a[i] &= k[i];
  m.push_back(op_match({{"&", Json::array({std::move(field), mac_text(k)})}}, mac_text(a), addr));
}

// A start/end pair: start alone is exact, both a range, end alone 0..end.
void range_match(std::vector<Json>& m, const Json& field, const Attr* start, const Attr* end) {
  if (!start && !end) return;
  const Attr& a = start ? *start : *end;
  if (start && !end) {
    m.push_back(op_match(field, number(start->value), a));
    return;
  }
  uint64_t lo = start ? number(start->value) : 0;
  m.push_back(op_match(field, nft::range(lo, number(end->value)), a));
}

// from/to: either bound may be absent.
void ip_range_match(std::vector<Json>& m, const Json& field, const Attr* from, const Attr* to,
                    bool v6) {
  if (!from && !to) return;
  std::string lo = from ? from->value : (v6 ? "::" : "0.0.0.0");
  std::string hi =
      to ? to->value : (v6 ? "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff" : "255.255.255.255");
  m.push_back(op_match(field, nft::range(lo, hi), from ? *from : *to));
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

void arp_ip_match(std::vector<Json>& m, int offset, const Attr& addr, const Attr* mask) {
  uint64_t a = ipv4_number(addr.value);
  if (!mask) {
    m.push_back(op_match(nh(offset, 32), a, addr));
    return;
  }
  uint64_t k =
      mask->value.find('.') == std::string::npos
          ? (0xffffffffULL << (32 - std::min<uint64_t>(number(mask->value), 32))) & 0xffffffffULL
          : ipv4_number(mask->value);
  m.push_back(op_match({{"&", Json::array({nh(offset, 32), k})}}, a & k, addr));
}

void arp_matches(std::vector<Json>& m, const ConcreteRule& r) {
  auto f = [&r](const char* n) { return r.find(n); };
  if (auto* a = f("hwtype")) m.push_back(op_match(nh(0, 16), number(a->value), *a));
  if (auto* a = f("protocoltype")) m.push_back(op_match(nh(16, 16), number(a->value), *a));
  if (auto* a = f("opcode")) m.push_back(op_match(nh(48, 16), arp_opcode(a->value), *a));
  if (auto* a = f("arpsrcmacaddr")) m.push_back(op_match(nh(64, 48), mac_number(a->value), *a));
  if (auto* a = f("arpsrcipaddr")) arp_ip_match(m, 112, *a, f("arpsrcipmask"));
  if (auto* a = f("arpdstmacaddr")) m.push_back(op_match(nh(144, 48), mac_number(a->value), *a));
  if (auto* a = f("arpdstipaddr")) arp_ip_match(m, 192, *a, f("arpdstipmask"));
  // Gratuitous: sender IP == target IP. nftables cannot compare two fields, so the target is
  // matched against the sender address the rule names (instantiation requires one). 'false'
  // adds no condition, as in libvirt.
  if (auto* g = f("gratuitous"); g && filter::parse_bool(g->value).value_or(false)) {
    if (auto* src = f("arpsrcipaddr"))
      m.push_back(nft::match(nh(192, 32), ipv4_number(src->value), g->match ? "==" : "!="));
  }
}

void mac_fields(std::vector<Json>& m, const ConcreteRule& r) {
  if (auto* a = r.find("srcmacaddr"))
    mac_match(m, nft::payload("ether", "saddr"), *a, r.find("srcmacmask"));
  if (auto* a = r.find("dstmacaddr"))
    mac_match(m, nft::payload("ether", "daddr"), *a, r.find("dstmacmask"));
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

void ip_fields(std::vector<Json>& m, const ConcreteRule& r, bool v6) {
  const std::string fam = v6 ? "ip6" : "ip";
  if (auto* a = r.find("srcipaddr"))
    ip_match(m, nft::payload(fam, "saddr"), *a, r.find("srcipmask"), v6);
  if (auto* a = r.find("dstipaddr"))
    ip_match(m, nft::payload(fam, "daddr"), *a, r.find("dstipmask"), v6);
  ip_range_match(m, nft::payload(fam, "saddr"), r.find("srcipfrom"), r.find("srcipto"), v6);
  ip_range_match(m, nft::payload(fam, "daddr"), r.find("dstipfrom"), r.find("dstipto"), v6);
  if (auto* a = r.find("dscp"))
    m.push_back(op_match(nft::payload(fam, "dscp"), number(a->value), *a));
}

bool has_ports(const ConcreteRule& r) {
  for (const char* n : {"srcportstart", "srcportend", "dstportstart", "dstportend"})
    if (r.find(n)) return true;
  return false;
}

void port_fields(std::vector<Json>& m, const ConcreteRule& r, int l4) {
  if (!has_ports(r)) return;
  // Ports exist only in TCP, UDP, UDP-Lite and SCTP headers (all at the same offsets).
  if (l4 == 0) m.push_back(nft::match(nft::meta("l4proto"), nft::anonymous_set({6, 17, 132, 136})));
  range_match(m, nft::payload("th", "sport"), r.find("srcportstart"), r.find("srcportend"));
  range_match(m, nft::payload("th", "dport"), r.find("dstportstart"), r.find("dstportend"));
}

// Returns false if the rule can never match.
bool l3_fields(std::vector<Json>& m, const ConcreteRule& r, bool v6, int l4) {
  if (auto* a = r.find("srcmacaddr")) mac_match(m, nft::payload("ether", "saddr"), *a, nullptr);
  ip_fields(m, r, v6);
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
      m.push_back(nft::match(nft::ct("state"), Json(states), a->match ? "in" : "!="));
    }
  }
  if (auto* a = r.find("connlimit-above"))
    m.push_back({{"ct count", {{"val", number(a->value)}, {"inv", a->match}}}});
  port_fields(m, r, l4);
  if (auto* a = r.find("flags")) {
    auto slash = a->value.find('/');
    uint32_t mask = tcp_flag_bits(a->value.substr(0, slash));
    uint32_t set = slash == std::string::npos ? mask : tcp_flag_bits(a->value.substr(slash + 1));
    m.push_back(op_match({{"&", Json::array({nft::payload("tcp", "flags"), mask})}}, set, *a));
  }
  const std::string icmp = v6 ? "icmpv6" : "icmp";
  if (auto* a = r.find("type"))
    m.push_back(op_match(nft::payload(icmp, "type"), number(a->value), *a));
  if (auto* a = r.find("code"))
    m.push_back(op_match(nft::payload(icmp, "code"), number(a->value), *a));
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

std::optional<std::vector<Json>> element_matches(const ConcreteRule& r) {
  std::vector<Json> m;
  if (!r.protocol) return m;
  const Protocol p = *r.protocol;
  switch (p) {
    case Protocol::mac:
      mac_fields(m, r);
      if (auto* a = r.find("protocolid"))
        m.push_back(op_match(nft::payload("ether", "type"), ether_word(a->value), *a));
      return m;
    case Protocol::vlan:
      m.push_back(ether_type(kEtherVlan));
      mac_fields(m, r);
      if (auto* a = r.find("vlanid"))
        m.push_back(op_match(nft::payload("vlan", "id"), number(a->value), *a));
      if (auto* a = r.find("encap-protocol"))
        m.push_back(op_match(nft::payload("vlan", "type"), ether_word(a->value), *a));
      return m;
    case Protocol::stp: {
      m.push_back(nft::match(nft::payload("ether", "daddr"), "01:80:c2:00:00:00"));
      if (auto* a = r.find("srcmacaddr"))
        mac_match(m, nft::payload("ether", "saddr"), *a, r.find("srcmacmask"));
      // BPDU type and flags: bytes 3 and 4 of the BPDU, after the 3-byte LLC header.
      Json ll_type = {{"payload", {{"base", "ll"}, {"offset", 160}, {"len", 8}}}};
      Json ll_flags = {{"payload", {{"base", "ll"}, {"offset", 168}, {"len", 8}}}};
      if (auto* a = r.find("type")) m.push_back(op_match(ll_type, number(a->value), *a));
      if (auto* a = r.find("flags")) m.push_back(op_match(ll_flags, number(a->value), *a));
      return m;
    }
    case Protocol::arp:
    case Protocol::rarp:
      m.push_back(ether_type(p == Protocol::arp ? kEtherArp : kEtherRarp));
      mac_fields(m, r);
      arp_matches(m, r);
      return m;
    case Protocol::ip:
    case Protocol::ipv6: {
      const bool v6 = p == Protocol::ipv6;
      m.push_back(ether_type(v6 ? kEtherIp6 : kEtherIp));
      mac_fields(m, r);
      ip_fields(m, r, v6);
      int l4 = 0;
      if (auto* a = r.find("protocol")) {
        l4 = protocol_number(a->value);
        m.push_back(op_match(nft::meta("l4proto"), l4, *a));
        if (!a->match) l4 = 0;
      }
      port_fields(m, r, l4);
      if (v6) {
        bool icmp = r.find("type") || r.find("code");
        if (icmp && l4 != 58) m.push_back(nft::match(nft::meta("l4proto"), 58));
        range_match(m, nft::payload("icmpv6", "type"), r.find("type"), r.find("typeend"));
        range_match(m, nft::payload("icmpv6", "code"), r.find("code"), r.find("codeend"));
      }
      return m;
    }
    default: {
      const bool v6 = is_ipv6(p);
      const int l4 = implied_l4(p);
      m.push_back(nft::match(nft::meta("nfproto"), v6 ? "ipv6" : "ipv4"));
      if (l4 != 0) m.push_back(nft::match(nft::meta("l4proto"), l4));
      if (!l3_fields(m, r, v6, l4)) return std::nullopt;
      return m;
    }
  }
}

}  // namespace

// A rule written with several protocol elements ANDs them: their attributes arrive as one list,
// and an attribute name seen again starts the next element.
std::optional<std::vector<Json>> rule_matches(const ConcreteRule& r) {
  std::vector<std::vector<Attr>> elements(1);
  for (const auto& a : r.attrs) {
    auto& cur = elements.back();
    bool seen =
        std::any_of(cur.begin(), cur.end(), [&](const Attr& x) { return x.name == a.name; });
    if (seen) elements.emplace_back();
    elements.back().push_back(a);
  }
  std::vector<Json> out;
  for (auto& attrs : elements) {
    ConcreteRule one = r;
    one.attrs = std::move(attrs);
    auto m = element_matches(one);
    if (!m) return std::nullopt;
    for (auto& x : *m)
      if (std::find(out.begin(), out.end(), x) == out.end()) out.push_back(std::move(x));
  }
  return out;
}

std::string log_prefix(const std::string& verdict, const std::string& direction,
                       const std::string& what) {
  std::string p = "vmgw " + verdict + " " + direction + " " + what;
  if (p.size() > 127) p.resize(127);
  return p;
}

Json log_to_daemon(const std::string& prefix) {
  return {{"log", {{"prefix", prefix}, {"group", kNflogGroup}}}};
}

std::vector<Json> rule_statements(const ConcreteRule& r, filter::Direction d) {
  std::vector<Json> s{nft::counter()};
  const std::string dir(filter::to_string(d));
  if (r.log)
    s.push_back(log_to_daemon(log_prefix(std::string(filter::to_string(r.action)), dir, r.origin)));
  switch (r.action) {
    case filter::Action::accept:
      s.push_back(nft::accept());
      break;
    case filter::Action::drop:
      s.push_back(nft::drop());
      break;
    case filter::Action::reject: {
      if (r.layer == filter::Layer::l2) {  // see filter_rule() in vm_filters.cpp
        s.push_back(nft::drop());
        break;
      }
      bool tcp = r.protocol == Protocol::tcp || r.protocol == Protocol::tcp_ipv6;
      if (auto* a = r.find("protocol"); a && a->match && protocol_number(a->value) == 6) tcp = true;
      // A TCP reset for TCP, an ICMP(v6) unreachable for other IP; frames that are not IP are
      // dropped (nothing can be sent back for them). See docs/filters.md.
      if (tcp)
        s.push_back({{"reject", {{"type", "tcp reset"}}}});
      else
        s.push_back({{"reject", {{"type", "icmpx"}, {"expr", "port-unreachable"}}}});
      break;
    }
    case filter::Action::return_:
      s.push_back({{"return", nullptr}});
      break;
    case filter::Action::continue_:
      break;  // counted (and logged), then the next rule
  }
  return s;
}

}  // namespace vmgw::compile_detail
