// The trace evaluator: attribute matching (each family, negation, what trace cannot know) and the
// walk through layer 2 (root, guarded sub-chains, return/continue) and layer 3 (conntrack
// shortcut, first match, end-of-list defaults). Programs are built by hand, sorted as
// instantiation sorts them.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <tuple>
#include <vector>

#include "filter/evaluate.h"

namespace vmgw::filter {
namespace {

Mac mac(const char* text) {
  return *Mac::parse(text);
}

constexpr const char* kVmMac = "52:54:00:12:34:56";

// A rule under construction: R(Action::drop, Protocol::tcp).attr("dstportstart", "22").
struct R {
  ConcreteRule r;
  explicit R(Action a, std::optional<Protocol> p = std::nullopt) {
    r.action = a;
    r.protocol = p;
    r.layer = p ? layer_of(*p) : Layer::l2;
  }
  R& attr(std::string name, std::string value, bool match = true) {
    r.attrs.push_back({std::move(name), std::move(value), match});
    return *this;
  }
  R& not_attr(std::string name, std::string value) {
    return attr(std::move(name), std::move(value), false);
  }
  R& chain(std::string c) {
    r.chain = std::move(c);
    return *this;
  }
  R& prio(int p) {
    r.priority = p;
    return *this;
  }
  R& dir(Direction d) {
    r.direction = d;
    return *this;
  }
  R& origin(std::string o) {
    r.origin = std::move(o);
    return *this;
  }
  R& log() {
    r.log = true;
    return *this;
  }
  operator ConcreteRule() const { return r; }  // NOLINT: builder
};

// Sorted as program.h promises: l2 by (chain, priority), then l3 by priority, ties as given.
Program program(std::vector<ConcreteRule> rules, std::vector<SubChain> chains = {}) {
  Program p;
  std::stable_sort(rules.begin(), rules.end(), [](const ConcreteRule& a, const ConcreteRule& b) {
    return std::tie(a.layer, a.chain, a.priority) < std::tie(b.layer, b.chain, b.priority);
  });
  std::sort(chains.begin(), chains.end(), [](const SubChain& a, const SubChain& b) {
    return std::tie(a.priority, a.name) < std::tie(b.priority, b.name);
  });
  p.rules = std::move(rules);
  p.chains = std::move(chains);
  return p;
}

Packet ipv4(uint8_t proto, const char* src, const char* dst, uint16_t dport = 0) {
  Packet p;
  p.src_mac = mac(kVmMac);
  p.dst_mac = mac("52:54:00:00:00:01");
  p.ip_proto = proto;
  p.src_ip = src;
  p.dst_ip = dst;
  p.sport = 40000;
  p.dport = dport;
  return p;
}

Packet tcp(uint16_t dport, const char* src = "10.0.0.5", const char* dst = "192.0.2.10") {
  return ipv4(6, src, dst, dport);
}

Packet ipv6(uint8_t proto, const char* src, const char* dst) {
  Packet p = ipv4(proto, "", "");
  p.ether_type = 0x86dd;
  p.src_ip = src;
  p.dst_ip = dst;
  return p;
}

Packet arp(const char* sender_ip, const char* target_ip, uint16_t opcode = 1) {
  Packet p;
  p.src_mac = mac(kVmMac);
  p.dst_mac = mac("ff:ff:ff:ff:ff:ff");
  p.ether_type = 0x0806;
  p.arp_opcode = opcode;
  p.arp_src_mac = mac(kVmMac);
  p.arp_src_ip = sender_ip;
  p.arp_dst_ip = target_ip;
  return p;
}

bool matches(const ConcreteRule& r, const Packet& p) {
  return rule_matches(r, p);
}

std::string why_not(const ConcreteRule& r, const Packet& p) {
  std::string why;
  EXPECT_FALSE(rule_matches(r, p, &why));
  return why;
}

std::vector<std::string> described(const Evaluation& e) {
  std::vector<std::string> out;
  for (const auto& s : e.steps) out.push_back(describe(s));
  return out;
}

// ---------------------------------------------------------------------------------------------
// rule_matches

TEST(FilterEvaluate, RuleWithoutProtocolMatchesEveryFrame) {
  ConcreteRule any = R(Action::drop);
  Packet no_mac = tcp(80);
  no_mac.src_mac.reset();
  EXPECT_TRUE(matches(any, tcp(80)));
  EXPECT_TRUE(matches(any, arp("10.0.0.5", "10.0.0.1")));
  EXPECT_TRUE(matches(any, ipv6(17, "fe80::1", "ff02::1")));
  EXPECT_TRUE(matches(any, no_mac));
}

TEST(FilterEvaluate, DirectionOfTheRule) {
  ConcreteRule in_only = R(Action::drop).dir(Direction::in);
  EXPECT_EQ(why_not(in_only, tcp(80)), "the rule is for direction 'in'");
  Packet to_vm = tcp(80);
  to_vm.direction = Direction::in;
  EXPECT_TRUE(matches(in_only, to_vm));
}

TEST(FilterEvaluate, ProtocolElementImpliesThePacketType) {
  EXPECT_TRUE(matches(R(Action::drop, Protocol::tcp), tcp(80)));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::udp), tcp(80)));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::all), tcp(80)));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::ip), tcp(80)));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::mac), tcp(80)));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::ipv6), tcp(80)));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::tcp_ipv6), tcp(80)));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::arp), tcp(80)));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::rarp), arp("10.0.0.5", "10.0.0.1")));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::vlan), tcp(80)));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::all_ipv6), ipv6(17, "2001:db8::1", "::1")));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::udp_ipv6), ipv6(17, "2001:db8::1", "::1")));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::icmpv6), ipv6(58, "2001:db8::1", "::1")));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::icmp), ipv6(58, "2001:db8::1", "::1")));
  EXPECT_EQ(why_not(R(Action::drop, Protocol::udp), tcp(80)),
            "<udp>: the packet's IP protocol is 6, not 17");
  EXPECT_EQ(why_not(R(Action::drop, Protocol::arp), tcp(80)),
            "<arp>: the packet's ether type is 0x0800, not 0x0806");
}

TEST(FilterEvaluate, MacAddressWithMask) {
  auto oui = R(Action::drop, Protocol::mac)
                 .attr("srcmacaddr", "52:54:00:00:00:00")
                 .attr("srcmacmask", "ff:ff:ff:00:00:00");
  EXPECT_TRUE(matches(oui, tcp(80)));
  EXPECT_FALSE(
      matches(R(Action::drop, Protocol::mac).attr("srcmacaddr", "52:54:00:00:00:00"), tcp(80)));
  EXPECT_TRUE(
      matches(R(Action::drop, Protocol::mac).attr("srcmacaddr", "52:54:00:12:34:56"), tcp(80)));
  EXPECT_TRUE(
      matches(R(Action::drop, Protocol::mac).attr("dstmacaddr", "52:54:00:00:00:01"), tcp(80)));
  EXPECT_FALSE(
      matches(R(Action::drop, Protocol::mac).attr("dstmacaddr", "52:54:00:00:00:02"), tcp(80)));
  // A layer-4 element's srcmacaddr works too.
  EXPECT_TRUE(matches(R(Action::drop, Protocol::tcp).attr("srcmacaddr", kVmMac), tcp(80)));
}

TEST(FilterEvaluate, UnknownMacNeverMatchesEvenNegated) {
  Packet p = tcp(80);
  p.src_mac.reset();
  EXPECT_EQ(why_not(R(Action::return_, Protocol::mac).attr("srcmacaddr", kVmMac), p),
            "srcmacaddr: the packet has no source MAC");
  EXPECT_FALSE(matches(R(Action::drop, Protocol::mac).not_attr("srcmacaddr", kVmMac), p));
}

TEST(FilterEvaluate, NegationIsPerAttribute) {
  // <ip match='no' srcipaddr='10.0.0.5' srcipmask='24' dstipaddr='192.0.2.10'/>: both negated
  // (the mask never is), and both negations must hold.
  auto rule = R(Action::drop, Protocol::ip)
                  .not_attr("srcipaddr", "10.0.0.0")
                  .attr("srcipmask", "24")
                  .not_attr("dstipaddr", "192.0.2.10");
  EXPECT_EQ(why_not(rule, tcp(80)),
            "not (srcipaddr=10.0.0.0 srcipmask=24): the packet has 10.0.0.5");
  EXPECT_FALSE(matches(rule, tcp(80, "10.0.1.5", "192.0.2.10")));
  EXPECT_TRUE(matches(rule, tcp(80, "10.0.1.5", "192.0.2.11")));
  // One negated attribute next to a plain one.
  auto mixed =
      R(Action::drop, Protocol::tcp).attr("dstportstart", "22").not_attr("srcipaddr", "10.0.0.5");
  EXPECT_FALSE(matches(mixed, tcp(22)));
  EXPECT_TRUE(matches(mixed, tcp(22, "10.0.0.6")));
  EXPECT_FALSE(matches(mixed, tcp(23, "10.0.0.6")));
}

TEST(FilterEvaluate, EtherTypeByWordOrNumber) {
  for (const char* v : {"ipv4", "IPv4", "0x0800", "0x800", "2048"})
    EXPECT_TRUE(matches(R(Action::drop, Protocol::mac).attr("protocolid", v), tcp(80))) << v;
  EXPECT_FALSE(matches(R(Action::drop, Protocol::mac).attr("protocolid", "arp"), tcp(80)));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::mac).attr("protocolid", "arp"),
                      arp("10.0.0.5", "10.0.0.1")));
  Packet v6 = ipv6(17, "::1", "::2");
  EXPECT_TRUE(matches(R(Action::drop, Protocol::mac).attr("protocolid", "ipv6"), v6));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::mac).not_attr("protocolid", "ipv6"), tcp(80)));
}

TEST(FilterEvaluate, VlanIdAndEncapsulatedType) {
  Packet p = tcp(80);
  p.ether_type = 0x8100;
  p.vlan_id = 42;
  p.vlan_encap = 0x0800;
  auto rule = R(Action::drop, Protocol::vlan).attr("vlanid", "42").attr("encap-protocol", "ipv4");
  EXPECT_TRUE(matches(rule, p));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::vlan).attr("vlanid", "0x2a"), p));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::vlan).attr("vlanid", "43"), p));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::vlan).attr("encap-protocol", "arp"), p));
  p.vlan_encap.reset();
  EXPECT_EQ(why_not(R(Action::drop, Protocol::vlan).attr("encap-protocol", "ipv4"), p),
            "encap-protocol: the packet has no encapsulated type");
}

TEST(FilterEvaluate, StpByDestinationMacFieldsUnsupported) {
  Packet bpdu = tcp(0);
  bpdu.ether_type = 0x0026;  // an 802.3 length: STP frames carry no ether type
  bpdu.dst_mac = mac("01:80:c2:00:00:00");
  EXPECT_TRUE(matches(R(Action::drop, Protocol::stp), bpdu));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::stp).attr("srcmacaddr", kVmMac), bpdu));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::stp), tcp(80)));
  EXPECT_EQ(why_not(R(Action::drop, Protocol::stp).attr("type", "0"), bpdu),
            "stp type: BPDU fields are not modelled by trace");
  EXPECT_FALSE(matches(R(Action::drop, Protocol::stp).attr("root-priority", "1"), bpdu));
}

TEST(FilterEvaluate, Ipv4AddressMaskDottedOrPrefix) {
  auto net = [](const char* mask) {
    return R(Action::drop, Protocol::ip).attr("srcipaddr", "10.0.0.0").attr("srcipmask", mask);
  };
  EXPECT_TRUE(matches(net("24"), tcp(80)));
  EXPECT_TRUE(matches(net("255.255.255.0"), tcp(80)));
  EXPECT_FALSE(matches(net("32"), tcp(80)));
  EXPECT_TRUE(matches(net("0"), tcp(80, "192.168.1.1")));
  // No mask: the whole address.
  EXPECT_TRUE(matches(R(Action::drop, Protocol::tcp).attr("dstipaddr", "192.0.2.10"), tcp(80)));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::tcp).attr("dstipaddr", "192.0.2.1"), tcp(80)));
  EXPECT_EQ(why_not(R(Action::drop, Protocol::tcp).attr("dstipaddr", "192.0.2.1"), tcp(80)),
            "dstipaddr=192.0.2.1: the packet has 192.0.2.10");
}

TEST(FilterEvaluate, AddressRangesInclusiveOpenBounds) {
  auto range =
      R(Action::drop, Protocol::udp).attr("dstipfrom", "192.0.2.10").attr("dstipto", "192.0.2.20");
  EXPECT_TRUE(matches(range, ipv4(17, "10.0.0.5", "192.0.2.10")));
  EXPECT_TRUE(matches(range, ipv4(17, "10.0.0.5", "192.0.2.20")));
  EXPECT_FALSE(matches(range, ipv4(17, "10.0.0.5", "192.0.2.21")));
  EXPECT_FALSE(matches(range, ipv4(17, "10.0.0.5", "192.0.2.9")));
  auto from_only = R(Action::drop, Protocol::udp).attr("srcipfrom", "10.0.0.5");
  EXPECT_TRUE(matches(from_only, ipv4(17, "10.0.0.200", "1.1.1.1")));
  EXPECT_FALSE(matches(from_only, ipv4(17, "10.0.0.4", "1.1.1.1")));
  auto to_only = R(Action::drop, Protocol::udp).attr("srcipto", "10.0.0.5");
  EXPECT_TRUE(matches(to_only, ipv4(17, "1.2.3.4", "1.1.1.1")));
  EXPECT_FALSE(matches(to_only, ipv4(17, "10.0.0.6", "1.1.1.1")));
}

TEST(FilterEvaluate, Ipv6AddressesPrefixesAndRanges) {
  Packet p = ipv6(6, "2001:db8::5", "fe80::1");
  EXPECT_TRUE(matches(R(Action::drop, Protocol::ipv6).attr("srcipaddr", "2001:db8::5"), p));
  EXPECT_TRUE(matches(
      R(Action::drop, Protocol::ipv6).attr("srcipaddr", "2001:db8::").attr("srcipmask", "32"), p));
  EXPECT_TRUE(matches(
      R(Action::drop, Protocol::tcp_ipv6).attr("dstipaddr", "fe80::").attr("dstipmask", "ffc0::"),
      p));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::ipv6).attr("srcipaddr", "2001:db8::6"), p));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::all_ipv6)
                          .attr("srcipfrom", "2001:db8::1")
                          .attr("srcipto", "2001:db8::ff"),
                      p));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::all_ipv6).attr("srcipfrom", "2001:db8::6"), p));
  // An IPv4 text in an IPv6 packet cannot be compared.
  Packet bad = ipv6(6, "10.0.0.5", "fe80::1");
  EXPECT_FALSE(matches(R(Action::drop, Protocol::ipv6).not_attr("srcipaddr", "2001:db8::5"), bad));
}

TEST(FilterEvaluate, IpProtocolByWordOrNumber) {
  EXPECT_TRUE(matches(R(Action::drop, Protocol::ip).attr("protocol", "tcp"), tcp(80)));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::ip).attr("protocol", "6"), tcp(80)));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::ip).attr("protocol", "0x06"), tcp(80)));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::ip).attr("protocol", "udp"), tcp(80)));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::ipv6).attr("protocol", "icmpv6"),
                      ipv6(58, "fe80::1", "ff02::2")));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::ip).not_attr("protocol", "udp"), tcp(80)));
}

TEST(FilterEvaluate, PortsExactRangeAndEndOnly) {
  auto dport = [](const char* start, const char* end) {
    R r(Action::accept, Protocol::tcp);
    if (*start) r.attr("dstportstart", start);
    if (*end) r.attr("dstportend", end);
    return r;
  };
  EXPECT_TRUE(matches(dport("22", ""), tcp(22)));
  EXPECT_FALSE(matches(dport("22", ""), tcp(23)));
  EXPECT_TRUE(matches(dport("8000", "8010"), tcp(8000)));
  EXPECT_TRUE(matches(dport("8000", "8010"), tcp(8010)));
  EXPECT_FALSE(matches(dport("8000", "8010"), tcp(8011)));
  EXPECT_TRUE(matches(dport("", "1023"), tcp(0)));
  EXPECT_FALSE(matches(dport("", "1023"), tcp(1024)));
  EXPECT_TRUE(matches(R(Action::accept, Protocol::udp).attr("srcportstart", "40000"),
                      ipv4(17, "10.0.0.5", "1.1.1.1", 53)));
  EXPECT_TRUE(matches(R(Action::accept, Protocol::tcp).not_attr("dstportstart", "22"), tcp(80)));
}

TEST(FilterEvaluate, PortsNeedAProtocolWithPorts) {
  Packet ping = ipv4(1, "10.0.0.5", "192.0.2.10");
  auto rule = R(Action::drop, Protocol::ip).attr("dstportstart", "22");
  EXPECT_EQ(why_not(rule, ping),
            "dstportstart: the packet is not TCP, UDP, SCTP or UDP-Lite (it has no ports)");
  EXPECT_FALSE(matches(R(Action::drop, Protocol::ip).not_attr("dstportstart", "22"), ping));
  EXPECT_TRUE(matches(rule, ipv4(132, "10.0.0.5", "192.0.2.10", 22)));  // sctp
  EXPECT_TRUE(matches(rule, ipv4(136, "10.0.0.5", "192.0.2.10", 22)));  // udplite
}

TEST(FilterEvaluate, IcmpTypeCodeAndIcmpv6Ranges) {
  Packet ping = ipv4(1, "10.0.0.5", "192.0.2.10");
  ping.icmp_type = 8;
  EXPECT_TRUE(matches(R(Action::accept, Protocol::icmp).attr("type", "8").attr("code", "0"), ping));
  EXPECT_FALSE(matches(R(Action::accept, Protocol::icmp).attr("type", "0"), ping));
  Packet rs = ipv6(58, "fe80::1", "ff02::2");
  rs.icmp_type = 133;
  auto ndp = R(Action::accept, Protocol::ipv6)
                 .attr("protocol", "icmpv6")
                 .attr("type", "133")
                 .attr("typeend", "136")
                 .attr("code", "0")
                 .attr("codeend", "0");
  EXPECT_TRUE(matches(ndp, rs));
  rs.icmp_type = 137;
  EXPECT_FALSE(matches(ndp, rs));
  EXPECT_TRUE(matches(R(Action::accept, Protocol::icmpv6).attr("type", "137"), rs));
  // <ipv6 type=...> on a UDP packet: not ICMPv6, no match.
  EXPECT_FALSE(matches(R(Action::accept, Protocol::ipv6).attr("type", "133"),
                       ipv6(17, "fe80::1", "ff02::2")));
}

TEST(FilterEvaluate, DscpAndCommentAndHexNumbers) {
  Packet p = tcp(80);
  p.dscp = 46;
  EXPECT_TRUE(matches(R(Action::drop, Protocol::ip).attr("dscp", "46"), p));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::tcp).attr("dscp", "0x2e"), p));
  EXPECT_FALSE(matches(R(Action::drop, Protocol::tcp).attr("dscp", "0"), p));
  EXPECT_TRUE(matches(
      R(Action::drop, Protocol::tcp).attr("comment", "web").attr("dstportstart", "0x50"), p));
}

TEST(FilterEvaluate, ConnectionStateList) {
  Packet p = tcp(80);
  EXPECT_TRUE(matches(R(Action::accept, Protocol::tcp).attr("state", "NEW"), p));
  EXPECT_TRUE(matches(R(Action::accept, Protocol::tcp).attr("state", "ESTABLISHED,NEW"), p));
  EXPECT_FALSE(matches(R(Action::accept, Protocol::tcp).attr("state", "ESTABLISHED,RELATED"), p));
  EXPECT_FALSE(matches(R(Action::accept, Protocol::tcp).attr("state", "NONE"), p));
  p.state = Packet::State::invalid;
  EXPECT_TRUE(matches(R(Action::drop, Protocol::all).attr("state", "INVALID"), p));
  EXPECT_TRUE(matches(R(Action::drop, Protocol::all).not_attr("state", "NEW"), p));
}

TEST(FilterEvaluate, ConnlimitIpsetAndOptionCannotMatch) {
  EXPECT_EQ(why_not(R(Action::drop, Protocol::tcp).attr("connlimit-above", "10"), tcp(80)),
            "connlimit-above: assumed under the limit");
  EXPECT_EQ(why_not(R(Action::drop, Protocol::tcp).attr("ipset", "bad").attr("ipsetflags", "src"),
                    tcp(80)),
            "ipset: ipset membership is not supported by trace");
  EXPECT_EQ(why_not(R(Action::drop, Protocol::tcp).attr("option", "2"), tcp(80)),
            "option: TCP options are not supported by trace");
}

TEST(FilterEvaluate, TcpFlagsMaskAndSet) {
  auto syn_only = R(Action::accept, Protocol::tcp).attr("flags", "SYN,ACK/SYN");
  Packet p = tcp(80);
  EXPECT_TRUE(matches(syn_only, p));  // no flags given: a flow's first packet, SYN
  p.tcp_flags = "SYN,ACK";
  EXPECT_FALSE(matches(syn_only, p));
  EXPECT_TRUE(matches(R(Action::accept, Protocol::tcp).attr("flags", "ALL/SYN,ACK"), p));
  EXPECT_TRUE(matches(R(Action::accept, Protocol::tcp).attr("flags", "RST/NONE"), p));
  p.tcp_flags = "rst";
  EXPECT_FALSE(matches(R(Action::accept, Protocol::tcp).attr("flags", "RST/NONE"), p));
  EXPECT_TRUE(matches(R(Action::accept, Protocol::tcp).not_attr("flags", "RST/NONE"), p));
}

TEST(FilterEvaluate, ArpHeaderFields) {
  Packet req = arp("10.0.0.5", "10.0.0.1");
  auto arp_rule = [] { return R(Action::return_, Protocol::arp); };
  EXPECT_TRUE(matches(arp_rule().attr("opcode", "Request"), req));
  EXPECT_TRUE(matches(arp_rule().attr("opcode", "request"), req));
  EXPECT_TRUE(matches(arp_rule().attr("opcode", "1"), req));
  EXPECT_FALSE(matches(arp_rule().attr("opcode", "Reply"), req));
  EXPECT_TRUE(matches(arp_rule().attr("opcode", "ARP_NAK"), arp("10.0.0.5", "10.0.0.1", 10)));
  EXPECT_TRUE(matches(arp_rule().attr("hwtype", "1").attr("protocoltype", "0x0800"), req));
  EXPECT_FALSE(matches(arp_rule().attr("hwtype", "6"), req));
  EXPECT_TRUE(matches(arp_rule().attr("arpsrcmacaddr", kVmMac), req));
  EXPECT_EQ(why_not(arp_rule().attr("arpdstmacaddr", kVmMac), req),
            "arpdstmacaddr: the packet has no ARP target MAC");
  EXPECT_TRUE(matches(arp_rule().attr("arpsrcipaddr", "10.0.0.5"), req));
  EXPECT_TRUE(matches(
      arp_rule().attr("arpdstipaddr", "10.0.0.0").attr("arpdstipmask", "255.255.255.0"), req));
  EXPECT_FALSE(
      matches(arp_rule().not_attr("arpsrcipaddr", "10.0.0.5").attr("arpsrcipmask", "32"), req));
  // RARP has the same fields.
  Packet rarp = req;
  rarp.ether_type = 0x8035;
  rarp.arp_opcode = 3;
  EXPECT_TRUE(matches(R(Action::accept, Protocol::rarp).attr("opcode", "Request_Reverse"), rarp));
}

TEST(FilterEvaluate, ArpGratuitous) {
  auto grat = R(Action::accept, Protocol::arp).attr("gratuitous", "true");
  EXPECT_TRUE(matches(grat, arp("10.0.0.5", "10.0.0.5")));
  EXPECT_FALSE(matches(grat, arp("10.0.0.5", "10.0.0.1")));
  EXPECT_TRUE(matches(R(Action::accept, Protocol::arp).not_attr("gratuitous", "true"),
                      arp("10.0.0.5", "10.0.0.1")));
  // false adds no condition.
  auto any = R(Action::accept, Protocol::arp).attr("gratuitous", "false");
  EXPECT_TRUE(matches(any, arp("10.0.0.5", "10.0.0.5")));
  EXPECT_TRUE(matches(any, arp("10.0.0.5", "10.0.0.1")));
}

TEST(FilterEvaluate, AddressAndMaskPairPerElement) {
  // Two elements of one rule flattened: each address takes the mask written after it.
  auto rule = R(Action::drop, Protocol::arp)
                  .attr("arpsrcipaddr", "10.0.0.0")
                  .attr("arpsrcipmask", "8")
                  .attr("arpsrcipaddr", "10.0.0.5");
  EXPECT_TRUE(matches(rule, arp("10.0.0.5", "10.0.0.1")));
  EXPECT_FALSE(matches(rule, arp("10.0.0.6", "10.0.0.1")));
}

// ---------------------------------------------------------------------------------------------
// evaluate

TEST(FilterEvaluate, EmptyProgramAcceptsByDefault) {
  Evaluation e = evaluate(Program{}, tcp(80));
  EXPECT_EQ(e.verdict, Verdict::accept);
  EXPECT_EQ(e.decided_by, "default");
  EXPECT_FALSE(e.logged);
  EXPECT_EQ(described(e),
            (std::vector<std::string>{"l2 root: no rule matched: accept (end of root)",
                                      "l3 root: no rule matched: accept (end of root)"}));
  // Layer 3 is for IP only.
  EXPECT_EQ(evaluate(Program{}, arp("10.0.0.5", "10.0.0.1")).steps.size(), 1U);
}

// clean-traffic's MAC part: mac chain returns for the VM's MAC, drops the rest.
Program no_mac_spoofing() {
  return program(
      {R(Action::return_, Protocol::mac)
           .chain("mac")
           .dir(Direction::out)
           .attr("srcmacaddr", kVmMac)
           .origin("clean-traffic/no-mac-spoofing rule 1"),
       R(Action::drop)
           .chain("mac")
           .dir(Direction::out)
           .origin("clean-traffic/no-mac-spoofing rule 2"),
       R(Action::drop, Protocol::tcp).attr("dstportstart", "25").origin("no-smtp rule 1")},
      {{"mac", -800}});
}

TEST(FilterEvaluate, ReturnLeavesSubChainAndRootGoesOn) {
  Evaluation e = evaluate(no_mac_spoofing(), tcp(80));
  EXPECT_EQ(e.verdict, Verdict::accept);
  EXPECT_EQ(e.decided_by, "default");
  EXPECT_EQ(described(e),
            (std::vector<std::string>{
                "l2 root: jump mac", "l2 mac: clean-traffic/no-mac-spoofing rule 1 matched: return",
                "l2 root: no rule matched: accept (end of root)",
                "l3 root: no rule matched: accept (end of root)"}));
  Evaluation smtp = evaluate(no_mac_spoofing(), tcp(25));
  EXPECT_EQ(smtp.verdict, Verdict::drop);
  EXPECT_EQ(smtp.decided_by, "no-smtp rule 1");
  EXPECT_EQ(describe(smtp.steps.back()), "l3 root: no-smtp rule 1 matched: drop");
}

TEST(FilterEvaluate, SpoofedOrUnknownMacIsDropped) {
  Packet spoofed = tcp(80);
  spoofed.src_mac = mac("52:54:00:66:66:66");
  Evaluation e = evaluate(no_mac_spoofing(), spoofed);
  EXPECT_EQ(e.verdict, Verdict::drop);
  EXPECT_EQ(e.decided_by, "clean-traffic/no-mac-spoofing rule 2");
  EXPECT_EQ(e.steps.size(), 2U);  // drop is final: no layer 3
  Packet unknown = tcp(80);
  unknown.src_mac.reset();
  EXPECT_EQ(evaluate(no_mac_spoofing(), unknown).verdict, Verdict::drop);
  // The rules are direction out: traffic to the VM passes.
  spoofed.direction = Direction::in;
  EXPECT_EQ(evaluate(no_mac_spoofing(), spoofed).verdict, Verdict::accept);
}

TEST(FilterEvaluate, SubChainGuardsByEtherType) {
  Program p = program(
      {R(Action::drop).chain("ipv4-ip").origin("v4"), R(Action::drop).chain("arp").origin("arp"),
       R(Action::drop).chain("ipv6").origin("v6"), R(Action::drop).chain("rarp").origin("rarp"),
       R(Action::drop).chain("vlan").origin("vlan"), R(Action::drop).chain("stp").origin("stp")},
      {{"stp", -810},
       {"vlan", -750},
       {"ipv4-ip", -710},
       {"ipv6", -600},
       {"arp", -500},
       {"rarp", -400}});
  EXPECT_EQ(evaluate(p, tcp(80)).decided_by, "v4");
  EXPECT_EQ(evaluate(p, arp("10.0.0.5", "10.0.0.1")).decided_by, "arp");
  EXPECT_EQ(evaluate(p, ipv6(17, "::1", "::2")).decided_by, "v6");
  Packet rarp = arp("10.0.0.5", "10.0.0.1");
  rarp.ether_type = 0x8035;
  EXPECT_EQ(evaluate(p, rarp).decided_by, "rarp");
  Packet tagged = tcp(80);
  tagged.ether_type = 0x8100;
  EXPECT_EQ(evaluate(p, tagged).decided_by, "vlan");
  Packet bpdu = tcp(80);
  bpdu.dst_mac = mac("01:80:c2:00:00:00");
  EXPECT_EQ(evaluate(p, bpdu).decided_by, "stp");
  Packet other = tcp(80);
  other.ether_type = 0x88cc;  // LLDP: no chain for it
  Evaluation e = evaluate(p, other);
  EXPECT_EQ(e.verdict, Verdict::accept);
  EXPECT_EQ(described(e),
            std::vector<std::string>{"l2 root: no rule matched: accept (end of root)"});
}

TEST(FilterEvaluate, ContinueOnlyCountsAndLogs) {
  Program p = program(
      {R(Action::continue_, Protocol::tcp).log().origin("audit rule 1"),
       R(Action::reject, Protocol::tcp).attr("dstportstart", "23").origin("no-telnet rule 1")});
  Evaluation e = evaluate(p, tcp(23));
  EXPECT_EQ(e.verdict, Verdict::reject);
  EXPECT_TRUE(e.logged);
  EXPECT_EQ(e.decided_by, "no-telnet rule 1");
  EXPECT_EQ(described(e),
            (std::vector<std::string>{"l2 root: no rule matched: accept (end of root)",
                                      "l3 root: audit rule 1 matched: continue",
                                      "l3 root: no-telnet rule 1 matched: reject"}));
  Evaluation web = evaluate(p, tcp(80));
  EXPECT_EQ(web.verdict, Verdict::accept);
  EXPECT_TRUE(web.logged);
  EXPECT_FALSE(evaluate(p, ipv4(17, "10.0.0.5", "1.1.1.1", 53)).logged);
}

TEST(FilterEvaluate, Layer2ContinueInSubChainGoesToNextRule) {
  Program p = program(
      {R(Action::continue_, Protocol::mac).chain("mac").log().origin("count"),
       R(Action::drop, Protocol::ip).chain("mac").attr("dstipaddr", "192.0.2.10").origin("block")},
      {{"mac", -800}});
  Evaluation e = evaluate(p, tcp(80));
  EXPECT_EQ(e.verdict, Verdict::drop);
  EXPECT_TRUE(e.logged);
  EXPECT_EQ(described(e),
            (std::vector<std::string>{"l2 root: jump mac", "l2 mac: count matched: continue",
                                      "l2 mac: block matched: drop"}));
}

TEST(FilterEvaluate, AcceptInSubChainEndsLayer2OnlyAndLayer3Runs) {
  Program p = program({R(Action::accept, Protocol::ip).chain("ipv4").origin("allow-ipv4"),
                       R(Action::drop).prio(1000).origin("no-other-l2-traffic"),
                       R(Action::drop, Protocol::all).origin("deny-all")},
                      {{"ipv4", -700}});
  Evaluation e = evaluate(p, tcp(80));
  EXPECT_EQ(e.verdict, Verdict::drop);
  EXPECT_EQ(e.decided_by, "deny-all");
  EXPECT_EQ(described(e),
            (std::vector<std::string>{"l2 root: jump ipv4", "l2 ipv4: allow-ipv4 matched: accept",
                                      "l3 root: deny-all matched: drop"}));
  // Other frames reach root's final drop.
  EXPECT_EQ(evaluate(p, arp("10.0.0.5", "10.0.0.1")).decided_by, "no-other-l2-traffic");
}

TEST(FilterEvaluate, EndOfSubChainBackToRoot) {
  Program p =
      program({R(Action::drop, Protocol::ip).chain("ipv4").attr("protocol", "udp").origin("no-udp"),
               R(Action::drop).prio(1000).origin("last")},
              {{"ipv4", -700}});
  Evaluation e = evaluate(p, tcp(80));
  EXPECT_EQ(e.decided_by, "last");
  EXPECT_EQ(described(e), (std::vector<std::string>{"l2 root: jump ipv4",
                                                    "l2 ipv4: no rule matched: back to root",
                                                    "l2 root: last matched: drop"}));
}

TEST(FilterEvaluate, RootRulesInterleaveWithJumpsByPriority) {
  // A root return at -900 runs before the mac chain (-800): layer 2 accepts at once.
  Program p = program(
      {R(Action::return_, Protocol::mac).prio(-900).attr("srcmacaddr", kVmMac).origin("early"),
       R(Action::drop).chain("mac").origin("mac-drop")},
      {{"mac", -800}});
  Evaluation e = evaluate(p, tcp(80));
  EXPECT_EQ(e.verdict, Verdict::accept);
  EXPECT_EQ(described(e),
            (std::vector<std::string>{"l2 root: early matched: return",
                                      "l3 root: no rule matched: accept (end of root)"}));
  Packet other = tcp(80);
  other.src_mac = mac("52:54:00:00:00:09");
  EXPECT_EQ(evaluate(p, other).decided_by, "mac-drop");
}

TEST(FilterEvaluate, Layer3ReturnAcceptsAndFirstMatchDecides) {
  Program p =
      program({R(Action::return_, Protocol::tcp).prio(100).attr("dstportstart", "22").origin("ssh"),
               R(Action::drop, Protocol::all).prio(900).origin("deny")});
  Evaluation ssh = evaluate(p, tcp(22));
  EXPECT_EQ(ssh.verdict, Verdict::accept);
  EXPECT_EQ(ssh.decided_by, "ssh");
  EXPECT_EQ(evaluate(p, tcp(80)).verdict, Verdict::drop);
}

TEST(FilterEvaluate, EstablishedAndRelatedShortcutLayer3NotLayer2) {
  Program p = program({R(Action::drop, Protocol::all).origin("deny")});
  Packet reply = tcp(80);
  reply.direction = Direction::in;
  reply.state = Packet::State::established;
  Evaluation e = evaluate(p, reply);
  EXPECT_EQ(e.verdict, Verdict::accept);
  EXPECT_EQ(e.decided_by, "conntrack");
  EXPECT_EQ(describe(e.steps.back()), "l3 root: established flow: accepted by conntrack");
  reply.state = Packet::State::related;
  EXPECT_EQ(evaluate(p, reply).verdict, Verdict::accept);
  // Layer 2 is stateless: it still applies to established packets.
  Program l2 = program({R(Action::drop, Protocol::ip).origin("l2-deny")});
  EXPECT_EQ(evaluate(l2, reply).verdict, Verdict::drop);
}

TEST(FilterEvaluate, InvalidIsLeftToTheGateway) {
  Program p = program({R(Action::drop, Protocol::all).origin("deny")});
  Packet bad = tcp(80);
  bad.state = Packet::State::invalid;
  Evaluation e = evaluate(p, bad);
  EXPECT_EQ(e.verdict, Verdict::accept);
  EXPECT_EQ(e.decided_by, "default");
  EXPECT_EQ(e.steps.back().layer, Layer::l3);
}

TEST(FilterEvaluate, Ipv6ThroughBothLayers) {
  Program p = program(
      {R(Action::return_, Protocol::ipv6)
           .chain("ipv6-ip")
           .dir(Direction::out)
           .attr("srcipaddr", "2001:db8::5")
           .origin("no-ipv6-spoofing rule 1"),
       R(Action::drop).chain("ipv6-ip").dir(Direction::out).origin("no-ipv6-spoofing rule 2"),
       R(Action::accept, Protocol::icmpv6).origin("ping6"),
       R(Action::drop, Protocol::all_ipv6).origin("deny6")},
      {{"ipv6-ip", -610}});
  Packet ping = ipv6(58, "2001:db8::5", "2001:db8::1");
  ping.icmp_type = 128;
  Evaluation e = evaluate(p, ping);
  EXPECT_EQ(e.verdict, Verdict::accept);
  EXPECT_EQ(e.decided_by, "ping6");
  EXPECT_EQ(evaluate(p, ipv6(6, "2001:db8::5", "2001:db8::1")).decided_by, "deny6");
  EXPECT_EQ(evaluate(p, ipv6(58, "2001:db8::6", "2001:db8::1")).decided_by,
            "no-ipv6-spoofing rule 2");
  // IPv4 rules never see IPv6 packets, and the reverse.
  EXPECT_EQ(evaluate(p, tcp(80)).decided_by, "default");
}

TEST(FilterEvaluate, VerdictNamesAndStepText) {
  EXPECT_EQ(to_string(Verdict::accept), "accept");
  EXPECT_EQ(to_string(Verdict::drop), "drop");
  EXPECT_EQ(to_string(Verdict::reject), "reject");
  EXPECT_EQ(describe({Layer::l3, "root", "my-web rule 2", "matched: accept"}),
            "l3 root: my-web rule 2 matched: accept");
  EXPECT_EQ(describe({Layer::l2, "root", "", "jump mac"}), "l2 root: jump mac");
}

}  // namespace
}  // namespace vmgw::filter
