#include "filter/evaluate.h"

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <utility>

#include "filter/values.h"

namespace vmgw::filter {

namespace {

// ---------------------------------------------------------------------------------------------
// Text and address helpers

bool iequals(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return lower(x) == lower(y);
  });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  for (;;) {
    std::size_t pos = s.find(sep);
    out.push_back(s.substr(0, pos));
    if (pos == std::string_view::npos) return out;
    s.remove_prefix(pos + 1);
  }
}

// A number as the attribute tables accept it: decimal or 0x hex.
std::optional<uint64_t> number(std::string_view s) {
  return parse_uint(s, true);
}

std::string hex16(uint64_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) out += kDigits[(v >> shift) & 0xfU];
  return out;
}

// An IPv4 (4 bytes) or IPv6 (16 bytes) address or mask, in network order.
struct Addr {
  std::array<uint8_t, 16> bytes{};
  std::size_t size = 0;
};

std::optional<Addr> parse_addr(std::string_view s, bool v6) {
  if (s.empty() || s.size() > 64) return std::nullopt;
  std::string z(s);
  Addr a;
  a.size = v6 ? 16 : 4;
  if (inet_pton(v6 ? AF_INET6 : AF_INET, z.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return a;
}

// A mask is a prefix length ("24") or written as an address ("255.255.255.0").
std::optional<Addr> parse_mask(std::string_view s, bool v6) {
  const std::size_t bits = v6 ? 128 : 32;
  if (!s.empty() && s.size() <= 3 &&
      std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    auto n = parse_uint(s, false);
    if (!n || *n > bits) return std::nullopt;
    Addr m;
    m.size = bits / 8;
    for (std::size_t i = 0; i < *n; ++i) m.bytes[i / 8] |= static_cast<uint8_t>(0x80U >> (i % 8));
    return m;
  }
  return parse_addr(s, v6);
}

Addr all_ones(bool v6) {
  Addr m;
  m.size = v6 ? 16 : 4;
  m.bytes.fill(0xff);
  return m;
}

bool masked_equal(const Addr& a, const Addr& b, const Addr& mask) {
  for (std::size_t i = 0; i < a.size; ++i)
    if ((a.bytes[i] & mask.bytes[i]) != (b.bytes[i] & mask.bytes[i])) return false;
  return true;
}

int compare(const Addr& a, const Addr& b) {
  return std::memcmp(a.bytes.data(), b.bytes.data(), a.size);
}

// ---------------------------------------------------------------------------------------------
// Attribute groups: an address and its mask, a port start and end, ... are one test together
// (a rule's attrs are flat, possibly from several elements of one rule, so a partner is the next
// one written before the same primary appears again).

struct Group {
  const Attr* first = nullptr;   // the primary attribute, or a secondary written alone
  const Attr* second = nullptr;  // the primary's partner, if written

  const Attr* get(std::string_view name) const {
    if (first && first->name == name) return first;
    if (second && second->name == name) return second;
    return nullptr;
  }
  // match='no' negates the pair (an IP mask itself is never negated, but its address is).
  bool negated() const { return !first->match || (second && !second->match); }
  std::string text() const {
    std::string t = first->name + "=" + first->value;
    if (second) t += " " + second->name + "=" + second->value;
    return negated() ? "not (" + t + ")" : t;
  }
};

constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kPartners{{
    {"srcmacaddr", "srcmacmask"},
    {"dstmacaddr", "dstmacmask"},
    {"srcipaddr", "srcipmask"},
    {"dstipaddr", "dstipmask"},
    {"srcipfrom", "srcipto"},
    {"dstipfrom", "dstipto"},
    {"srcportstart", "srcportend"},
    {"dstportstart", "dstportend"},
    {"arpsrcipaddr", "arpsrcipmask"},
    {"arpdstipaddr", "arpdstipmask"},
    {"type", "typeend"},
    {"code", "codeend"},
}};

// The primary of a group's name (itself for a primary or a single attribute).
std::string_view primary_of(std::string_view name) {
  for (const auto& [primary, secondary] : kPartners)
    if (name == secondary) return primary;
  return name;
}

std::vector<Group> groups_of(const std::vector<Attr>& attrs) {
  std::vector<Group> out;
  std::vector<bool> used(attrs.size(), false);
  for (std::size_t i = 0; i < attrs.size(); ++i) {
    if (used[i]) continue;
    Group g{&attrs[i]};
    for (const auto& [primary, secondary] : kPartners) {
      if (attrs[i].name != primary) continue;
      for (std::size_t j = i + 1; j < attrs.size() && attrs[j].name != primary; ++j)
        if (!used[j] && attrs[j].name == secondary) {
          g.second = &attrs[j];
          used[j] = true;
          break;
        }
    }
    out.push_back(g);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tests of one group on the packet, before negation.

struct Test {
  enum class Kind {
    hit,      // the packet has what the group asks for
    miss,     // it has something else
    unknown,  // the packet does not carry it, or trace cannot know: no match, negated or not
    ignored,  // nothing to test (comment, a mask without its address, gratuitous=false)
  };
  Kind kind = Kind::ignored;
  std::string detail;  // miss/hit: the packet's value; unknown: the whole reason
};

Test compared(bool equal, std::string packet_value) {
  return {equal ? Test::Kind::hit : Test::Kind::miss, std::move(packet_value)};
}
Test unknown(std::string reason) {
  return {Test::Kind::unknown, std::move(reason)};
}
Test ignored() {
  return {Test::Kind::ignored, ""};
}

Test mac_test(const Group& g, std::string_view addr_name, std::string_view mask_name,
              const std::optional<Mac>& packet, std::string_view what) {
  const Attr* addr = g.get(addr_name);
  if (!addr) return ignored();
  if (!packet) return unknown(std::string(addr_name) + ": the packet has no " + std::string(what));
  auto want = Mac::parse(addr->value);
  const Attr* mask_attr = g.get(mask_name);
  auto mask = mask_attr ? Mac::parse(mask_attr->value) : Mac::parse("ff:ff:ff:ff:ff:ff");
  if (!want || !mask) return unknown(std::string(addr_name) + ": not a MAC address or mask");
  bool equal = true;
  for (std::size_t i = 0; i < 6; ++i)
    equal = equal && (packet->bytes[i] & mask->bytes[i]) == (want->bytes[i] & mask->bytes[i]);
  return compared(equal, packet->str());
}

Test ip_test(const Group& g, std::string_view addr_name, std::string_view mask_name,
             const std::string& packet, bool v6) {
  const Attr* addr = g.get(addr_name);
  if (!addr) return ignored();
  auto have = parse_addr(packet, v6);
  if (!have)
    return unknown(std::string(addr_name) + ": the packet's address '" + packet + "' is not an " +
                   (v6 ? "IPv6" : "IPv4") + " address");
  auto want = parse_addr(addr->value, v6);
  const Attr* mask_attr = g.get(mask_name);
  auto mask = mask_attr ? parse_mask(mask_attr->value, v6) : all_ones(v6);
  if (!want || !mask) return unknown(std::string(addr_name) + ": not an address or mask");
  return compared(masked_equal(*have, *want, *mask), packet);
}

// srcipfrom/srcipto: inclusive, either bound may be absent (open).
Test ip_range_test(const Group& g, std::string_view from_name, std::string_view to_name,
                   const std::string& packet, bool v6) {
  auto have = parse_addr(packet, v6);
  if (!have)
    return unknown(std::string(from_name) + ": the packet's address '" + packet + "' is not an " +
                   (v6 ? "IPv6" : "IPv4") + " address");
  bool in = true;
  for (auto [name, lower] : {std::pair{from_name, true}, std::pair{to_name, false}}) {
    const Attr* a = g.get(name);
    if (!a) continue;
    auto bound = parse_addr(a->value, v6);
    if (!bound) return unknown(std::string(name) + ": not an address");
    in = in && (lower ? compare(*have, *bound) >= 0 : compare(*have, *bound) <= 0);
  }
  return compared(in, packet);
}

// start alone: exact; start and end: inclusive range; end alone: 0..end.
Test uint_range_test(const Group& g, std::string_view start_name, std::string_view end_name,
                     uint64_t packet) {
  const Attr* start = g.get(start_name);
  const Attr* end = g.get(end_name);
  auto lo = start ? number(start->value) : std::optional<uint64_t>(0);
  auto hi = end ? number(end->value) : lo;
  if (!lo || !hi) return unknown(std::string(start_name) + ": not a number");
  return compared(packet >= *lo && packet <= *hi, std::to_string(packet));
}

bool has_ports(uint8_t ip_proto) {
  return ip_proto == 6 || ip_proto == 17 || ip_proto == 132 || ip_proto == 136;
}

Test port_test(const Group& g, std::string_view start_name, std::string_view end_name,
               uint16_t port, const Packet& p) {
  if (!has_ports(p.ip_proto))
    return unknown(std::string(g.first->name) +
                   ": the packet is not TCP, UDP, SCTP or UDP-Lite (it has no ports)");
  return uint_range_test(g, start_name, end_name, port);
}

// ICMP type/code (icmp, icmpv6) and the icmpv6 type/typeend, code/codeend ranges of <ipv6>.
Test icmp_test(const Group& g, std::string_view start_name, std::string_view end_name,
               uint8_t value, const Packet& p, bool v6) {
  if (p.ip_proto != (v6 ? 58 : 1))
    return unknown(std::string(g.first->name) + ": the packet is not " + (v6 ? "ICMPv6" : "ICMP"));
  return uint_range_test(g, start_name, end_name, value);
}

Test word_test(const Attr& a, uint64_t packet, std::string packet_text,
               std::optional<uint64_t> (*value_of)(std::string_view)) {
  auto want = value_of(a.value);
  if (!want) return unknown(a.name + ": '" + a.value + "' is neither a number nor a known name");
  return compared(*want == packet, std::move(packet_text));
}

Test exact_test(const Attr& a, uint64_t packet) {
  auto want = number(a.value);
  if (!want) return unknown(a.name + ": '" + a.value + "' is not a number");
  return compared(*want == packet, std::to_string(packet));
}

std::string_view state_name(Packet::State s) {
  switch (s) {
    case Packet::State::new_:
      return "NEW";
    case Packet::State::established:
      return "ESTABLISHED";
    case Packet::State::related:
      return "RELATED";
    case Packet::State::invalid:
      return "INVALID";
  }
  return "";
}

// A comma list of NEW, ESTABLISHED, RELATED, INVALID; NONE matches nothing.
Test state_test(const Attr& a, Packet::State s) {
  bool in = false;
  for (auto item : split(a.value, ',')) in = in || iequals(item, state_name(s));
  return compared(in, std::string(state_name(s)));
}

// TCP flag bits as the header carries them.
constexpr std::array<std::pair<std::string_view, unsigned>, 8> kTcpFlags{{{"FIN", 0x01},
                                                                          {"SYN", 0x02},
                                                                          {"RST", 0x04},
                                                                          {"PSH", 0x08},
                                                                          {"ACK", 0x10},
                                                                          {"URG", 0x20},
                                                                          {"ALL", 0x3f},
                                                                          {"NONE", 0x00}}};

std::optional<unsigned> parse_flag_list(std::string_view s) {
  unsigned bits = 0;
  for (auto item : split(s, ',')) {
    bool known = false;
    for (const auto& [name, bit] : kTcpFlags)
      if (iequals(item, name)) {
        bits |= bit;
        known = true;
      }
    if (!known) return std::nullopt;
  }
  return bits;
}

// flags='MASK/SET': (packet flags & MASK) == SET. A packet without flags is a flow's first: SYN.
Test tcp_flags_test(const Attr& a, const Packet& p) {
  std::string have_text = p.tcp_flags.empty() ? "SYN" : p.tcp_flags;
  auto have = parse_flag_list(have_text);
  if (!have)
    return unknown("flags: the packet's TCP flags '" + p.tcp_flags + "' are not understood");
  auto parts = split(a.value, '/');
  std::optional<unsigned> mask, set;
  if (parts.size() == 2) {
    mask = parse_flag_list(parts[0]);
    set = parse_flag_list(parts[1]);
  }
  if (!mask || !set) return unknown("flags: '" + a.value + "' is not MASK/SET");
  return compared((*have & *mask) == *set, have_text);
}

// gratuitous='true': an ARP announcing its own address (sender IP == target IP); 'false' adds
// no condition, as in libvirt.
Test gratuitous_test(const Attr& a, const Packet& p) {
  auto want = parse_bool(a.value);
  if (!want) return unknown("gratuitous: '" + a.value + "' is not a boolean");
  if (!*want) return ignored();
  auto src = parse_addr(p.arp_src_ip, false);
  auto dst = parse_addr(p.arp_dst_ip, false);
  if (!src || !dst) return unknown("gratuitous: the packet's ARP addresses are not IPv4 addresses");
  return compared(compare(*src, *dst) == 0, p.arp_src_ip + " -> " + p.arp_dst_ip);
}

Test arp_mac_test(const Attr& a, const std::optional<Mac>& packet, std::string_view what) {
  if (!packet) return unknown(a.name + ": the packet has no " + std::string(what));
  auto want = Mac::parse(a.value);
  if (!want) return unknown(a.name + ": '" + a.value + "' is not a MAC address");
  return compared(*want == *packet, packet->str());
}

// Attributes of <stp> other than the source MAC are BPDU fields Packet does not describe.
bool is_stp_field(std::string_view name) {
  return name != "srcmacaddr" && name != "srcmacmask" && name != "comment";
}

Test test_group(const Group& g, Protocol proto, const Packet& p) {
  const std::string& name = g.first->name;
  const Attr& a = *g.first;
  const bool v6 = is_ipv6(proto);
  if (proto == Protocol::stp && is_stp_field(name))
    return unknown("stp " + name + ": BPDU fields are not modelled by trace");
  std::string_view key = primary_of(name);
  // Layer 2 header
  if (key == "srcmacaddr") return mac_test(g, "srcmacaddr", "srcmacmask", p.src_mac, "source MAC");
  if (key == "dstmacaddr")
    return mac_test(g, "dstmacaddr", "dstmacmask", p.dst_mac, "destination MAC");
  if (key == "protocolid") return word_test(a, p.ether_type, hex16(p.ether_type), ether_type_value);
  if (key == "encap-protocol") {
    if (!p.vlan_encap) return unknown("encap-protocol: the packet has no encapsulated type");
    return word_test(a, *p.vlan_encap, hex16(*p.vlan_encap), ether_type_value);
  }
  if (key == "vlanid") {
    if (!p.vlan_id) return unknown("vlanid: the packet has no VLAN id");
    return exact_test(a, *p.vlan_id);
  }
  // IP header
  if (key == "srcipaddr") return ip_test(g, "srcipaddr", "srcipmask", p.src_ip, v6);
  if (key == "dstipaddr") return ip_test(g, "dstipaddr", "dstipmask", p.dst_ip, v6);
  if (key == "srcipfrom") return ip_range_test(g, "srcipfrom", "srcipto", p.src_ip, v6);
  if (key == "dstipfrom") return ip_range_test(g, "dstipfrom", "dstipto", p.dst_ip, v6);
  if (key == "protocol")
    return word_test(a, p.ip_proto, std::to_string(p.ip_proto), ip_protocol_value);
  if (key == "dscp") return exact_test(a, p.dscp);
  if (key == "srcportstart") return port_test(g, "srcportstart", "srcportend", p.sport, p);
  if (key == "dstportstart") return port_test(g, "dstportstart", "dstportend", p.dport, p);
  if (key == "type") return icmp_test(g, "type", "typeend", p.icmp_type, p, v6);
  if (key == "code") return icmp_test(g, "code", "codeend", p.icmp_code, p, v6);
  if (key == "flags") return tcp_flags_test(a, p);
  // Connection tracking and what trace cannot know for a single packet
  if (key == "state") return state_test(a, p.state);
  if (key == "connlimit-above") return unknown("connlimit-above: assumed under the limit");
  if (key == "ipset" || key == "ipsetflags")
    return unknown(name + ": ipset membership is not supported by trace");
  if (key == "option") return unknown("option: TCP options are not supported by trace");
  // ARP/RARP
  if (key == "hwtype") return exact_test(a, 1);  // Ethernet: the only hardware vmgw bridges
  if (key == "protocoltype") return exact_test(a, 0x0800);  // ARP for IPv4
  if (key == "opcode")
    return word_test(a, p.arp_opcode, std::to_string(p.arp_opcode), arp_opcode_value);
  if (key == "arpsrcmacaddr") return arp_mac_test(a, p.arp_src_mac, "ARP sender MAC");
  if (key == "arpdstmacaddr") return arp_mac_test(a, p.arp_dst_mac, "ARP target MAC");
  if (key == "arpsrcipaddr") return ip_test(g, "arpsrcipaddr", "arpsrcipmask", p.arp_src_ip, false);
  if (key == "arpdstipaddr") return ip_test(g, "arpdstipaddr", "arpdstipmask", p.arp_dst_ip, false);
  if (key == "gratuitous") return gratuitous_test(a, p);
  if (key == "comment") return ignored();
  return unknown("unknown attribute '" + name + "'");
}

// ---------------------------------------------------------------------------------------------
// The packet type a protocol element implies.

struct Implied {
  uint16_t ether_type = 0;
  std::optional<uint8_t> ip_proto;  // nullopt: any
};

std::optional<Implied> implied_by(Protocol p) {
  constexpr uint16_t v4 = 0x0800, v6 = 0x86dd;
  switch (p) {
    case Protocol::mac:
    case Protocol::stp:  // by destination MAC, see type_mismatch
      return std::nullopt;
    case Protocol::vlan:
      return Implied{0x8100};
    case Protocol::arp:
      return Implied{0x0806};
    case Protocol::rarp:
      return Implied{0x8035};
    case Protocol::ip:
    case Protocol::all:
      return Implied{v4};
    case Protocol::ipv6:
    case Protocol::all_ipv6:
      return Implied{v6};
    case Protocol::tcp:
      return Implied{v4, 6};
    case Protocol::udp:
      return Implied{v4, 17};
    case Protocol::udplite:
      return Implied{v4, 136};
    case Protocol::sctp:
      return Implied{v4, 132};
    case Protocol::icmp:
      return Implied{v4, 1};
    case Protocol::igmp:
      return Implied{v4, 2};
    case Protocol::esp:
      return Implied{v4, 50};
    case Protocol::ah:
      return Implied{v4, 51};
    case Protocol::tcp_ipv6:
      return Implied{v6, 6};
    case Protocol::udp_ipv6:
      return Implied{v6, 17};
    case Protocol::udplite_ipv6:
      return Implied{v6, 136};
    case Protocol::sctp_ipv6:
      return Implied{v6, 132};
    case Protocol::icmpv6:
      return Implied{v6, 58};
    case Protocol::esp_ipv6:
      return Implied{v6, 50};
    case Protocol::ah_ipv6:
      return Implied{v6, 51};
  }
  return std::nullopt;
}

bool is_stp_frame(const Packet& p) {
  return p.dst_mac && *p.dst_mac == *Mac::parse("01:80:c2:00:00:00");
}

// Why the packet is not of the element's type, or "" if it is.
std::string type_mismatch(Protocol proto, const Packet& p) {
  std::string element = "<" + std::string(to_string(proto)) + ">";
  if (proto == Protocol::stp)
    return is_stp_frame(p) ? "" : element + ": not an STP frame (to 01:80:c2:00:00:00)";
  auto implied = implied_by(proto);
  if (!implied) return "";
  if (p.ether_type != implied->ether_type)
    return element + ": the packet's ether type is " + hex16(p.ether_type) + ", not " +
           hex16(implied->ether_type);
  if (implied->ip_proto && p.ip_proto != *implied->ip_proto)
    return element + ": the packet's IP protocol is " + std::to_string(p.ip_proto) + ", not " +
           std::to_string(*implied->ip_proto);
  return "";
}

// ---------------------------------------------------------------------------------------------
// The walk through the layers.

struct Decision {
  Verdict verdict = Verdict::accept;
  std::string by = "default";
};

// Whether root's jump into `chain` is taken for this frame.
bool guard_matches(const std::string& chain, const Packet& p) {
  auto prefix = chain_prefix(chain);
  if (!prefix) return false;
  if (*prefix == "mac") return true;
  if (*prefix == "stp") return is_stp_frame(p);
  for (auto [name, type] : {std::pair<std::string_view, uint16_t>{"vlan", 0x8100},
                            {"ipv4", 0x0800},
                            {"ipv6", 0x86dd},
                            {"arp", 0x0806},
                            {"rarp", 0x8035}})
    if (*prefix == name) return p.ether_type == type;
  return false;
}

class Walk {
 public:
  Walk(const Program& prog, const Packet& p, Evaluation& ev) : prog_(prog), p_(p), ev_(ev) {}

  Decision layer2() {
    for (const RootStep& s : root_steps(prog_, p_.direction)) {
      if (s.jump) {
        if (!guard_matches(s.jump->name, p_)) continue;
        step(Layer::l2, "root", "", "jump " + s.jump->name);
        if (auto d = sub_chain(s.jump->name)) return *d;
        continue;
      }
      if (!s.rule || !matches(*s.rule, "root")) continue;
      // In root, return leaves layer 2 like accept.
      if (s.rule->action != Action::continue_) return decided(*s.rule);
    }
    step(Layer::l2, "root", "", "no rule matched: accept (end of root)");
    return {};
  }

  Decision layer3() {
    if (p_.state == Packet::State::established || p_.state == Packet::State::related) {
      bool est = p_.state == Packet::State::established;
      step(Layer::l3, "root", "",
           std::string(est ? "established" : "related") + " flow: accepted by conntrack");
      return {Verdict::accept, "conntrack"};
    }
    if (p_.state == Packet::State::invalid) {
      step(Layer::l3, "root", "",
           "invalid packet: accepted at this layer (the gateway drops invalid packets)");
      return {};
    }
    for (const ConcreteRule* r : rules_of(prog_, Layer::l3, "root", p_.direction))
      if (matches(*r, "root") && r->action != Action::continue_) return decided(*r);
    step(Layer::l3, "root", "", "no rule matched: accept (end of root)");
    return {};
  }

 private:
  // nullopt: back to root (a return, or the end of the chain).
  std::optional<Decision> sub_chain(const std::string& chain) {
    for (const ConcreteRule* r : rules_of(prog_, Layer::l2, chain, p_.direction)) {
      if (!matches(*r, chain)) continue;
      if (r->action == Action::return_) return std::nullopt;
      if (r->action != Action::continue_) return decided(*r);
    }
    step(Layer::l2, chain, "", "no rule matched: back to root");
    return std::nullopt;
  }

  // Records and logs a match.
  bool matches(const ConcreteRule& r, const std::string& chain) {
    if (!rule_matches(r, p_)) return false;
    if (r.log) ev_.logged = true;
    step(r.layer, chain, r.origin, "matched: " + std::string(to_string(r.action)));
    return true;
  }

  // The verdict of a matching accept, drop, reject or (ending the layer) return.
  static Decision decided(const ConcreteRule& r) {
    switch (r.action) {
      case Action::drop:
        return {Verdict::drop, r.origin};
      case Action::reject:
        // Layer-2 rules cannot reject in the bridge hooks they run in: the kernel drops.
        if (r.layer == Layer::l2) return {Verdict::drop, r.origin + " (reject as drop: layer 2)"};
        return {Verdict::reject, r.origin};
      default:
        return {Verdict::accept, r.origin};
    }
  }

  void step(Layer l, const std::string& chain, const std::string& origin, std::string what) {
    ev_.steps.push_back({l, chain, origin, std::move(what)});
  }

  const Program& prog_;
  const Packet& p_;
  Evaluation& ev_;
};

}  // namespace

std::string_view to_string(Verdict v) {
  switch (v) {
    case Verdict::accept:
      return "accept";
    case Verdict::drop:
      return "drop";
    case Verdict::reject:
      return "reject";
  }
  return "";
}

std::string describe(const TraceStep& s) {
  std::string out = s.layer == Layer::l2 ? "l2 " : "l3 ";
  out += s.chain + ": ";
  if (!s.origin.empty()) out += s.origin + " ";
  return out + s.what;
}

bool rule_matches(const ConcreteRule& r, const Packet& p, std::string* why_not) {
  auto fail = [&](std::string why) {
    if (why_not) *why_not = std::move(why);
    return false;
  };
  if (!r.applies_to(p.direction))
    return fail("the rule is for direction '" + std::string(to_string(r.direction)) + "'");
  if (!r.protocol) return true;  // no protocol element: every frame
  if (auto why = type_mismatch(*r.protocol, p); !why.empty()) return fail(why);
  for (const Group& g : groups_of(r.attrs)) {
    Test t = test_group(g, *r.protocol, p);
    switch (t.kind) {
      case Test::Kind::ignored:
        break;
      case Test::Kind::unknown:
        return fail(t.detail);
      case Test::Kind::hit:
      case Test::Kind::miss:
        if ((t.kind == Test::Kind::hit) == g.negated())
          return fail(g.text() + ": the packet has " + t.detail);
        break;
    }
  }
  return true;
}

Evaluation evaluate(const Program& prog, const Packet& p) {
  Evaluation ev;
  Walk walk(prog, p, ev);
  Decision d = walk.layer2();
  const bool ip = p.ether_type == 0x0800 || p.ether_type == 0x86dd;
  if (d.verdict == Verdict::accept && ip && p.from_host && p.direction == Direction::in) {
    ev.steps.push_back({Layer::l3, "root", "", "sent by the host itself: IP rules do not apply"});
  } else if (d.verdict == Verdict::accept && ip) {
    d = walk.layer3();
  }
  ev.verdict = d.verdict;
  ev.decided_by = d.by;
  return ev;
}

}  // namespace vmgw::filter
