// Links, addresses, routes and sysctls the host needs for the declared topology.
#include "compile/compile.h"
#include "compile/parts.h"

namespace vmgw::compile_detail {

void compile_network(const Index& ix, Plan& p) {
  // Forwarding is the gateway's whole job; it is per network namespace.
  p.sysctls.push_back({"net/ipv4/ip_forward", "1"});
  // The conntrack table is the host's, shared by every VM: sized for the gateway's job
  // (host.conntrack_max, raised only), and protected per VM by host.flows_per_vm.
  if (ix.config.host.conntrack_max > 0)
    p.sysctls.push_back({"net/netfilter/nf_conntrack_max",
                         std::to_string(ix.config.host.conntrack_max), true, true});

  for (const auto& u : ix.config.uplinks) {  // their routes: routing.cpp
    p.uplink_devices.push_back(u.device);
    p.addresses.push_back({u.device, *u.address});
  }
  for (const auto& [name, pool] : ix.pools) {
    p.managed_ranges.push_back({ix.uplinks.at(pool->uplink)->device, *pool->first, *pool->last});
  }
  for (const auto& [name, net] : ix.networks) {
    p.bridges.push_back({net->bridge});
    p.addresses.push_back({net->bridge, {*net->gateway, net->subnet->prefix}});
    p.managed_ranges.push_back({net->bridge, net->subnet->first(), net->subnet->last()});
  }
  // (Bound elastic IPs add theirs: contribute_binding.) add_contributions sorts them.
}

void contribute_vm_network(const Index& ix, const Vm& vm, Contribution& c) {
  if (!vm.port.empty()) c.ports.push_back({vm.port, ix.networks.at(vm.network)->bridge});
}

}  // namespace vmgw::compile_detail
