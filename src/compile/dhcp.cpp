// DHCP servers: one dnsmasq per network with dhcp: true, serving only the reservations.
#include "compile/compile.h"
#include "compile/parts.h"

namespace vmgw {

std::string DhcpServer::hosts_file() const {
  std::string out;
  for (const auto& r : reservations) out += r.mac.str() + "," + r.ip.str() + "," + r.name + "\n";
  return out;
}

namespace compile_detail {

void compile_dhcp(const Index& ix, Plan& p) {
  for (const auto& [name, net] : ix.networks) {
    if (!net->dhcp) continue;
    // The reservations are the VMs' (contribute_vm_dhcp); add_contributions sorts them.
    p.dhcp.push_back({name, net->bridge, *net->subnet, *net->gateway, net->dns_servers, {}});
  }
}

void contribute_vm_dhcp(const Index& ix, const Vm& vm, Contribution& c) {
  if (ix.networks.at(vm.network)->dhcp)
    c.reservations.push_back({vm.network, {*vm.mac, *vm.ip, vm.name}});
}

}  // namespace compile_detail
}  // namespace vmgw
