// Filtering: what may be forwarded (VM/LAN networks out, published services in, replies) and
// what may reach the host itself (declared services only). Each VM's new flows are counted by
// one lookup of its address, whatever the number of VMs.
#include "compile/compile.h"
#include "compile/filter_rules.h"
#include "compile/parts.h"

namespace vmgw::compile_detail {
namespace {

using nft::Json;

void established_then_invalid(std::vector<nft::Rule>& rules) {
  rules.push_back(
      {{nft::match(nft::ct("state"), Json::array({"established", "related"}), "in"), nft::accept()},
       "replies and related traffic of accepted flows"});
  rules.push_back({{nft::match(nft::ct("state"), "invalid", "in"), nft::counter(), nft::drop()},
                   "packets conntrack cannot place"});
}

void compile_forward(const Index& ix, nft::Table& t) {
  // Default drops go to the daemon's drop log (vmgw log): the rule that decided is the policy.
  // (Its log chain first: adding a chain moves the table's chains.)
  auto end = logged_drop(t, NftTable::inet, "log_forward",
                         log_prefix("drop", "-", "gateway: forward"), ix.config.host.drop_log);
  auto& fwd = chain_named(t, names::kFilterForward).rules;
  established_then_invalid(fwd);
  fwd.push_back({{nft::match(nft::payload("ip", "saddr"), nft::set_ref(names::kVmEgress))},
                 "per-VM count of new flows sent"});
  fwd.push_back({{nft::match(nft::payload("ip", "daddr"), nft::set_ref(names::kVmIngress))},
                 "per-VM count of new flows received"});
  fwd.push_back({{nft::match(nft::meta("iifname"), nft::set_ref(names::kInternalIfs)),
                  nft::counter(), nft::accept()},
                 "VM networks and LANs may open connections"});
  fwd.push_back({{nft::match(nft::ct("status"), "dnat", "in"), nft::counter(), nft::accept()},
                 "published by a port forward or an elastic IP"});
  fwd.push_back({end, "everything else"});
}

std::vector<Json> host_service_match(const HostService& s) {
  std::vector<Json> m;
  if (!s.interface.empty()) m.push_back(nft::match(nft::meta("iifname"), s.interface));
  if (s.from) m.push_back(nft::match(nft::payload("ip", "saddr"), nft::prefix(*s.from)));
  std::string proto(to_string(s.proto));
  m.push_back(nft::match(nft::meta("l4proto"), proto));
  m.push_back(nft::match(nft::payload("th", "dport"), nft::port_value(*s.ports)));
  return m;
}

std::string host_service_comment(const HostService& s) {
  std::string c = "host: allow " + std::string(to_string(s.proto)) + "/" + s.ports->str();
  if (s.from) c += " from " + s.from->str();
  if (!s.interface.empty()) c += " on " + s.interface;
  return c;
}

void compile_input(const Index& ix, nft::Table& t) {
  auto end = logged_drop(t, NftTable::inet, "log_input", log_prefix("drop", "-", "host: input"),
                         ix.config.host.drop_log);
  auto& in = chain_named(t, names::kFilterInput).rules;
  established_then_invalid(in);
  in.push_back({{nft::match(nft::meta("iif"), "lo"), nft::accept()}, "the host talking to itself"});
  // IPv6 neighbour discovery keeps the host's links working; everything else IPv6 is dropped.
  in.push_back({{nft::match(nft::payload("icmpv6", "type"),
                            nft::anonymous_set({"nd-router-solicit", "nd-router-advert",
                                                "nd-neighbor-solicit", "nd-neighbor-advert"})),
                 nft::accept()},
                "IPv6 neighbour discovery"});
  if (ix.config.host.allow_ping) {
    in.push_back(
        {{nft::match(nft::payload("icmp", "type"), "echo-request"), nft::counter(), nft::accept()},
         "host: allow ping"});
  }
  in.push_back({{nft::match(nft::meta("iifname"), nft::set_ref(names::kDhcpIfs)),
                 nft::match(nft::payload("udp", "dport"), 67), nft::accept()},
                "DHCP requests to the host's dnsmasq"});
  for (const auto& s : ix.config.host.allow) {
    auto m = host_service_match(s);
    m.push_back(nft::counter());
    m.push_back(nft::accept());
    in.push_back({m, host_service_comment(s)});
  }
  in.push_back({end, "host: everything else"});
}

void add_interface_elements(const Index& ix, nft::Table& t) {
  auto& internal = set_named(t, names::kInternalIfs);
  auto& subnets = set_named(t, names::kInternalSubnets);
  auto& dhcp = set_named(t, names::kDhcpIfs);
  for (const auto& [name, net] : ix.networks) {
    internal.elements.push_back({net->bridge, nullptr});
    subnets.elements.push_back({nft::prefix(*net->subnet), nullptr});
    if (net->dhcp) dhcp.elements.push_back({net->bridge, nullptr});
  }
}

}  // namespace

void contribute_vm_counters(const Vm& vm, Contribution& c) {
  // Each VM's new flows are counted by its element in these sets (the lookups in
  // filter_forward), not by a chain per VM: the kernel's chains stay few.
  c.elements.push_back({NftTable::inet, names::kVmEgress, {vm.ip->str(), nullptr}});
  c.elements.push_back({NftTable::inet, names::kVmIngress, {vm.ip->str(), nullptr}});
}

void compile_filter(const Index& ix, nft::Table& t) {
  add_interface_elements(ix, t);
  compile_forward(ix, t);
  compile_input(ix, t);
}

}  // namespace vmgw::compile_detail
