// The trace evaluator: what a VM's instantiated filters (a Program) decide for one packet, step by
// step. It implements exactly the semantics the nft compiler gives the kernel, so that
// `vmgw trace` explains what the kernel does rather than what libvirt's documentation suggests:
//
// - Layer 2, stateless, every frame: root's steps in order; a jump into a sub-chain is taken when
//   the frame is of the chain's kind (mac: all, stp: BPDUs, vlan/ipv4/ipv6/arp/rarp: that ether
//   type). The first matching rule of a chain decides: accept ends layer 2 (on to layer 3), drop
//   and reject are final, return leaves the sub-chain (in root: layer 2 accepts), continue only
//   counts/logs. The end of a sub-chain goes back to root; the end of root accepts.
// - Layer 3, for IPv4/IPv6 frames layer 2 accepted: established and related packets are accepted
//   by conntrack and invalid ones are left to the gateway; a new flow is tried against the l3
//   rules in order (return accepts), and the end of the list accepts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "filter/program.h"
#include "model/net.h"

namespace vmgw::filter {

// One packet (or frame) as the operator describes it to `vmgw trace`.
struct Packet {
  Direction direction = Direction::out;  // out: sent by the VM; in: sent to the VM (never inout)
  std::optional<Mac> src_mac, dst_mac;
  uint16_t ether_type = 0x0800;  // 0x0800 ipv4, 0x86dd ipv6, 0x0806 arp, 0x8035 rarp, 0x8100 vlan
  std::optional<uint16_t> vlan_id;
  std::optional<uint16_t> vlan_encap;  // 802.1Q frames: the encapsulated ether type
  // IPv4/IPv6 (addresses as text so that IPv6 works; parsed as needed)
  std::string src_ip, dst_ip;
  uint8_t ip_proto = 0;  // 6 tcp, 17 udp, 1 icmp, 58 icmpv6, 132 sctp, 136 udplite, 2 igmp, 50, 51
  uint16_t sport = 0, dport = 0;
  uint8_t icmp_type = 0, icmp_code = 0;
  uint8_t dscp = 0;
  std::string tcp_flags;  // e.g. "SYN" or "SYN,ACK"; empty = SYN (the first packet of a flow)
  enum class State { new_, established, related, invalid } state = State::new_;
  // Sent to the VM by the host itself (DHCP replies, the host's own connections): the VM's IP
  // rules do not apply to it, only its layer-2 rules (as with libvirt).
  bool from_host = false;
  // ARP/RARP
  uint16_t arp_opcode = 1;
  std::optional<Mac> arp_src_mac, arp_dst_mac;
  std::string arp_src_ip, arp_dst_ip;
};

enum class Verdict { accept, drop, reject };
std::string_view to_string(Verdict v);

// One thing that happened during the evaluation. `what` is one of "jump <chain>",
// "matched: <action>", "no rule matched: back to root", "no rule matched: accept (end of root)",
// "established flow: accepted by conntrack", ...; `origin` is the rule's, empty for the rest.
struct TraceStep {
  Layer layer = Layer::l2;
  std::string chain;
  std::string origin;
  std::string what;
  bool operator==(const TraceStep&) const = default;
};

// "l2 mac: clean-traffic/no-mac-spoofing rule 1 matched: return", "l2 root: jump mac".
std::string describe(const TraceStep& s);

struct Evaluation {
  Verdict verdict = Verdict::accept;
  std::vector<TraceStep> steps;
  // The origin of the rule that decided, "conntrack" for packets of an accepted flow, or
  // "default" when a chain's end decided.
  std::string decided_by = "default";
  bool logged = false;  // a matching rule with log='yes' was evaluated
};

// Whether `r` matches `p`: its direction, the packet type its protocol element implies and each
// attribute (match='no' negates one attribute; what the packet does not carry, or trace cannot
// know, never matches, negated or not). `why_not` receives the first reason it does not.
bool rule_matches(const ConcreteRule& r, const Packet& p, std::string* why_not = nullptr);

Evaluation evaluate(const Program& prog, const Packet& p);

}  // namespace vmgw::filter
