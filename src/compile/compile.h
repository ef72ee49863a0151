// Validated<Config> -> Plan. Pure and deterministic: no I/O, no clock, no randomness; objects
// are emitted in a sorted order that does not depend on the order of the input file.
#pragma once

#include <array>
#include <map>
#include <string>
#include <string_view>

#include "compile/conditions.h"
#include "compile/contribution.h"
#include "compile/plan.h"
#include "filter/catalog.h"
#include "filter/instantiate.h"
#include "filter/program.h"
#include "model/validate.h"

namespace vmgw {

// Compiles a validated configuration into the full desired state of the host. Per-VM filters
// are looked up in `filters`; check_filters() must have found no error (else std::logic_error).
// The nexthop groups hold the uplinks that `health` allows (see docs/uplinks.md).
Plan compile(const Validated<Config>& config, const filter::FilterCatalog& filters,
             const UplinkConditions& health = {});
// The same with the built-in filters only.
Plan compile(const Validated<Config>& config);

// What validate() cannot see: every VM's filters exist, reference no loop and have a value for
// each variable they use. Errors name the VM and the filter.
Diagnostics check_filters(const Config& config, const filter::FilterCatalog& filters);

// A VM's filters instantiated with its defaults ($IP, $MAC, $DHCPSERVER when its network runs
// DHCP) overridden by the binding's parameters. Used by the compiler, `vmgw trace` and the
// conntrack cut on redefinition.
filter::Instantiation instantiate_vm(const Config& config, const Vm& vm,
                                     const filter::FilterCatalog& filters);

// Names of the objects in vmgw's nftables table, shared by the compiler, `vmgw show` and tests.
namespace names {
inline constexpr const char* kTable = "vmgw";
inline constexpr const char* kInternalIfs = "internal_ifs";
inline constexpr const char* kInternalSubnets = "internal_subnets";
inline constexpr const char* kDhcpIfs = "dhcp_ifs";
inline constexpr const char* kMasquerade = "masquerade_sources";
inline constexpr const char* kHairpinSubnets = "hairpin_subnets";
inline constexpr const char* kEipDnat = "eip_dnat";
inline constexpr const char* kEipSnat = "eip_snat";
inline constexpr const char* kForwardAddr = "pf_addr";
inline constexpr const char* kForwardPort = "pf_port";
inline constexpr const char* kVmEgress = "vm_egress";
inline constexpr const char* kVmIngress = "vm_ingress";
inline constexpr const char* kNatPrerouting = "nat_prerouting";
inline constexpr const char* kNatPostrouting = "nat_postrouting";
inline constexpr const char* kFilterForward = "filter_forward";
inline constexpr const char* kFilterInput = "filter_input";
inline constexpr const char* kFilterOutput = "filter_output";  // host.output.policy drop only
inline constexpr const char* kDscpOutput = "dscp_output";      // DSCP rules with `from` only
inline constexpr const char* kHelpers = "helpers";             // conntrack helpers, when used
inline constexpr const char* kHelpersOut = "helpers_out";      // the host's, for what it opens
// The chains whose counted rules are the gateway's "firewall status" (`vmgw status`).
inline constexpr std::array<const char*, 6> kStatusChains{"filter_input",   "filter_output",
                                                          "filter_forward", "nat_postrouting",
                                                          "dscp_forward",   "dscp_output"};
// Per-VM filters and quarantine (inet: IP, stateful; bridge: layer 2, by bridge port). The
// vm_l2_* and vm_l3_* chains dispatch to the filter programs (vm_filters.cpp).
inline constexpr const char* kVmL3Out = "vm_l3_out";
inline constexpr const char* kVmL3In = "vm_l3_in";
inline constexpr const char* kQuarantined = "quarantined";
inline constexpr const char* kQuarantineAllow = "quarantine_allow";
inline constexpr const char* kQuarantineChain = "quarantine";
inline constexpr const char* kVmFlows = "vm_flows";
inline constexpr const char* kVmOutForward = "vm_out_forward";
inline constexpr const char* kVmInForward = "vm_in_forward";
inline constexpr const char* kVmOutInput = "vm_out_input";
inline constexpr const char* kVmInOutput = "vm_in_output";
inline constexpr const char* kVmL2Out = "vm_l2_out";
inline constexpr const char* kVmL2In = "vm_l2_in";
inline constexpr const char* kQuarantinedPorts = "quarantined_ports";
// The layer-2 checks of a quarantined port's frames, entered only by a port of the set above.
inline constexpr const char* kL2QuarantineOut = "l2_quarantine_out";
inline constexpr const char* kQuarantinedPortAddrs = "quarantined_port_addrs";
inline constexpr const char* kL2OutForward = "l2_out_forward";
inline constexpr const char* kL2OutInput = "l2_out_input";
inline constexpr const char* kL2InForward = "l2_in_forward";
inline constexpr const char* kL2InOutput = "l2_in_output";
// Several uplinks: flows pinned to the uplink they started on, SNAT per uplink, DSCP.
inline constexpr const char* kUplinkIfs = "uplink_ifs";
inline constexpr const char* kUplinkSnat = "uplink_snat";
inline constexpr const char* kFlowUplink = "flow_uplink";
inline constexpr const char* kUplinkByDevice = "uplink_by_device";
inline constexpr const char* kRoutePrerouting = "route_prerouting";
inline constexpr const char* kRoutePostrouting = "route_postrouting";
inline constexpr const char* kDscpForward = "dscp_forward";
// The set of the VMs a filter program serves: "<program chain>-vms".
inline constexpr std::string_view kProgramMembersSuffix = "-vms";
inline std::string program_members(const std::string& chain) {
  return chain + std::string(kProgramMembersSuffix);
}
std::string uplink_chain(const std::string& uplink);  // "uplink-isp1": pins a flow to it
// "pinned-isp1": routes a packet of a flow already pinned to that uplink (the packet mark only:
// the conntrack mark holds it already, and writing it again on every packet costs).
std::string pinned_chain(const std::string& uplink);
// "eip_via_isp1": the addresses of the VMs whose elastic IP is on that uplink (a plain set: a
// binding is an element, never a jump or goto, so binding never re-validates the ruleset).
std::string eip_uplink_set(const std::string& uplink);
}  // namespace names

}  // namespace vmgw
