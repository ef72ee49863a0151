// DHCP servers: one dnsmasq per network with dhcp: true, serving only the reservations.
#include "compile/compile.h"
#include "compile/parts.h"

#include <algorithm>
#include <string_view>

namespace vmgw {

bool dnsmasq_reads_as_keyword(std::string_view name) {
  // dnsmasq reads each field of a dhcp-host line by its form: `ignore` refuses the host,
  // `infinite` and a number with an optional unit (3600, 45m, 12h, 7d, 1w, 30s) are a lease time.
  // (Forms with ':' or '.' -- id:, set:, tag:, addresses -- cannot be VM names.)
  if (name == "ignore" || name == "infinite") return true;
  std::string_view digits = name;
  if (digits.size() > 1 &&
      std::string_view("wdhmsWDHMS").find(digits.back()) != std::string_view::npos)
    digits.remove_suffix(1);
  return !digits.empty() &&
         std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string DhcpServer::hosts_file() const {
  std::string out;
  for (const auto& r : reservations) {
    out += r.mac.str() + "," + r.ip.str();
    // A name dnsmasq would misread is left out: the VM keeps its lease, without a DNS name.
    if (!dnsmasq_reads_as_keyword(r.name)) out += "," + r.name;
    out += "\n";
  }
  return out;
}

namespace compile_detail {

void compile_dhcp(const Index& ix, Plan& p) {
  for (const auto& [name, net] : ix.networks) {
    if (!net->dhcp) continue;
    // The reservations are the VMs' (contribute_vm_dhcp); add_contributions sorts them.
    p.dhcp.push_back({name,
                      net->bridge,
                      *net->subnet,
                      *net->gateway,
                      net->dns_servers,
                      {},
                      net->lease_time.value_or(kDefaultLeaseTime)});
  }
}

void contribute_vm_dhcp(const Index& ix, const Vm& vm, Contribution& c) {
  if (ix.networks.at(vm.network)->dhcp)
    c.reservations.push_back({vm.network, {*vm.mac, *vm.ip, vm.name}});
}

}  // namespace compile_detail
}  // namespace vmgw
