// Filtering: what may be forwarded (VM/LAN networks out, published services in, replies). Each
// VM's new flows are counted by one lookup of its address, whatever the number of VMs. The
// host's own policy is in host.cpp.
#include <tuple>

#include "compile/compile.h"
#include "compile/filter_rules.h"
#include "compile/parts.h"

namespace vmgw::compile_detail {
namespace {

using nft::Json;

}  // namespace

void established_then_invalid(std::vector<nft::Rule>& rules) {
  rules.push_back(
      {{nft::match(nft::ct("state"), Json::array({"established", "related"}), "in"), nft::accept()},
       "replies and related traffic of accepted flows"});
  rules.push_back({{nft::match(nft::ct("state"), "invalid", "in"), nft::counter(), nft::drop()},
                   "packets conntrack cannot place"});
}

namespace {

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
  // A network's ICMP lists: what is listed passes, other new ICMP out of (or into) that network
  // is dropped and logged. Errors of its flows are `related`, accepted above.
  for (const auto& [name, net] : ix.networks) {
    for (auto [list, way, dev] : {std::tuple{&net->icmp_out, "out", "iifname"},
                                  std::tuple{&net->icmp_in, "in", "oifname"}}) {
      if (!*list) continue;
      const std::string who = name + ": icmp " + way;
      for (const auto& m : **list) {
        nft::Rule r = icmp_rule(m, who + " " + icmp_text(m));
        r.expr.insert(r.expr.begin(), nft::match(nft::meta(dev), net->bridge));
        fwd.push_back(std::move(r));
      }
      std::vector<Json> rest{nft::match(nft::meta(dev), net->bridge),
                             nft::match(nft::meta("l4proto"), 1)};
      for (const auto& e : end) rest.push_back(e);
      fwd.push_back({rest, who + ": not listed"});
    }
  }
  fwd.push_back({{nft::match(nft::meta("iifname"), nft::set_ref(names::kInternalIfs)),
                  nft::counter(), nft::accept()},
                 "VM networks and LANs may open connections"});
  fwd.push_back({{nft::match(nft::ct("status"), "dnat", "in"), nft::counter(), nft::accept()},
                 "published by a port forward or an elastic IP"});
  fwd.push_back({end, "everything else"});
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
  compile_host(ix, t);
}

}  // namespace vmgw::compile_detail
