// The static shape of vmgw's table. Chains never change with the number of VMs, forwards or
// elastic IPs: that data lives in the sets and maps below, so a change touches elements, not
// the rule path, and per-packet cost does not grow with the config.
#include "compile/compile.h"
#include "compile/parts.h"

namespace vmgw::compile_detail {
namespace {

nft::Set make_set(const char* name, nft::Json type, nft::Json map, const char* comment,
                  std::vector<std::string> flags = {}) {
  nft::Set s;
  s.name = name;
  s.type = std::move(type);
  s.map = std::move(map);
  s.comment = comment;
  s.flags = std::move(flags);
  return s;
}

// Per source address, its tracked connections (host.flows_per_vm): filled by the kernel.
nft::Set flow_counts() {
  nft::Set s = make_set(names::kVmFlows, "ipv4_addr", nullptr,
                        "VM address -> its tracked connections (host.flows_per_vm)");
  s.size = 65536;
  s.filled_by_kernel = true;
  return s;
}

// One counter per element, counted by the lookups that find it: per-VM counts, not chains.
nft::Set counted(nft::Set s) {
  s.counter = true;
  return s;
}

nft::Chain base_chain(const char* name, const char* type, const char* hook, int priority,
                      const char* policy) {
  return nft::Chain{name, nft::Hook{type, hook, priority, policy}, {}};
}

}  // namespace

void declare_table(nft::Table& t) {
  using nft::Json;
  const Json forward_key = Json::array({"ipv4_addr", "inet_proto", "inet_service"});
  t.name = names::kTable;
  t.sets = {
      make_set(names::kInternalIfs, "ifname", nullptr, "devices of VM networks and LANs"),
      make_set(names::kInternalSubnets, "ipv4_addr", nullptr, "subnets of VM networks and LANs",
               {"interval"}),
      make_set(names::kDhcpIfs, "ifname", nullptr, "networks whose DHCP server runs on the host"),
      make_set(names::kMasquerade, Json::array({"ifname", "ipv4_addr"}), nullptr,
               "uplink . source subnet: masqueraded behind the uplink's address", {"interval"}),
      make_set(names::kHairpinSubnets, Json::array({"ipv4_addr", "ipv4_addr"}), nullptr,
               "client . service inside one network's subnet: hairpin NAT", {"interval"}),
      make_set(names::kEipDnat, "ipv4_addr", "ipv4_addr", "elastic IP -> VM address (inbound)"),
      make_set(names::kEipSnat, Json::array({"ipv4_addr", "ifname"}), "ipv4_addr",
               "VM address . uplink -> elastic IP (outbound)"),
      // Port forwards need two maps: libnftables 1.0.6 cannot create a map whose data is a
      // concatenation (ipv4_addr . inet_service) from JSON, so address and port are looked up
      // separately under the same key.
      make_set(names::kForwardAddr, forward_key, "ipv4_addr",
               "public address . protocol . port -> VM address"),
      make_set(names::kForwardPort, forward_key, "inet_service",
               "public address . protocol . port -> VM port"),
      counted(make_set(names::kVmEgress, "ipv4_addr", nullptr, "VM addresses: new flows sent")),
      counted(
          make_set(names::kVmIngress, "ipv4_addr", nullptr, "VM addresses: new flows received")),
      make_set(names::kQuarantined, "ipv4_addr", nullptr, "quarantined VMs"),
      flow_counts(),
      make_set(names::kQuarantineAllow, Json::array({"ipv4_addr", "ipv4_addr"}), nullptr,
               "quarantined VM . management source", {"interval"}),
      make_set(names::kUplinkIfs, "ifname", nullptr, "devices of the uplinks"),
      make_set(names::kUplinkSnat, "ifname", "ipv4_addr",
               "uplink device -> its address (SNAT of the networks behind it)"),
      make_set(names::kFlowUplink, "mark", "verdict",
               "conntrack mark -> the uplink its flow is pinned to"),
      make_set(names::kUplinkByDevice, "ifname", "verdict",
               "uplink device -> pin the flow to that uplink"),
  };
  t.chains = {
      base_chain(names::kNatPrerouting, "nat", "prerouting", -100, "accept"),
      base_chain(names::kNatPostrouting, "nat", "postrouting", 100, "accept"),
      base_chain(names::kFilterForward, "filter", "forward", 0, "drop"),
      base_chain(names::kFilterInput, "filter", "input", 0, "drop"),
      // Per-VM filters run before the gateway's policy, each in its own base chain: an nwfilter
      // accept ends only that chain, and the gateway's policy still applies after it.
      base_chain(names::kVmOutForward, "filter", "forward", -20, "accept"),
      base_chain(names::kVmInForward, "filter", "forward", -10, "accept"),
      base_chain(names::kVmOutInput, "filter", "input", -20, "accept"),
      base_chain(names::kVmInOutput, "filter", "output", -20, "accept"),
      nft::Chain{names::kQuarantineChain, std::nullopt, {}},
      // Dispatch to the filter programs: one rule per program in use (its membership set), added
      // with the program; VMs are elements of those sets.
      nft::Chain{names::kVmL3Out, std::nullopt, {}},
      nft::Chain{names::kVmL3In, std::nullopt, {}},
      // Several uplinks: before the routing decision (mangle priority), the flow's uplink is put
      // into the packet mark for the policy routing rules; after it, a new flow's uplink is
      // recorded in its conntrack mark.
      base_chain(names::kRoutePrerouting, "filter", "prerouting", -150, "accept"),
      base_chain(names::kRoutePostrouting, "filter", "postrouting", -150, "accept"),
  };
}

void declare_bridge_table(nft::Table& t) {
  using nft::Json;
  t.family = "bridge";
  t.name = names::kTable;
  t.sets = {
      make_set(names::kQuarantinedPorts, "ifname", nullptr, "bridge ports of quarantined VMs"),
      make_set(names::kQuarantinedPortAddrs, Json::array({"ifname", "ipv4_addr"}), nullptr,
               "bridge port . address of quarantined VMs"),
  };
  t.chains = {
      base_chain(names::kL2OutForward, "filter", "forward", -20, "accept"),
      base_chain(names::kL2OutInput, "filter", "input", -20, "accept"),
      base_chain(names::kL2InForward, "filter", "forward", -10, "accept"),
      base_chain(names::kL2InOutput, "filter", "output", -10, "accept"),
      // Dispatch to the filter programs: one rule per program in use (its membership set), added
      // with the program; VMs are elements of those sets.
      nft::Chain{names::kVmL2Out, std::nullopt, {}},
      nft::Chain{names::kVmL2In, std::nullopt, {}},
      nft::Chain{names::kL2QuarantineOut, std::nullopt, {}},
  };
}

}  // namespace vmgw::compile_detail
