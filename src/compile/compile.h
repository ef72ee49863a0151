// Validated<Config> -> Plan. Pure and deterministic: no I/O, no clock, no randomness; objects
// are emitted in a sorted order that does not depend on the order of the input file.
#pragma once

#include <string>

#include "compile/plan.h"
#include "model/validate.h"

namespace vmgw {

// Compiles a validated configuration into the full desired state of the host.
Plan compile(const Validated<Config>& config);

// Names of the objects in vmgw's nftables table, shared by the compiler, `vmgw show` and tests.
namespace names {
inline constexpr const char* kTable = "vmgw";
inline constexpr const char* kInternalIfs = "internal_ifs";
inline constexpr const char* kInternalSubnets = "internal_subnets";
inline constexpr const char* kDhcpIfs = "dhcp_ifs";
inline constexpr const char* kMasquerade = "masquerade_sources";
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
std::string vm_egress_chain(const std::string& vm);   // "vm-web-out"
std::string vm_ingress_chain(const std::string& vm);  // "vm-web-in"
}  // namespace names

}  // namespace vmgw
