// DHCP servers: one dnsmasq per network with dhcp: true, serving only the reservations.
#include <algorithm>

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
    DhcpServer s{name, net->bridge, *net->subnet, *net->gateway, net->dns_servers, {}};
    for (const auto& [vm_name, vm] : ix.vms) {
      if (vm->network == name) s.reservations.push_back({*vm->mac, *vm->ip, vm_name});
    }
    std::sort(s.reservations.begin(), s.reservations.end(),
              [](const auto& a, const auto& b) { return a.ip < b.ip; });
    p.dhcp.push_back(std::move(s));
  }
}

}  // namespace compile_detail
}  // namespace vmgw
