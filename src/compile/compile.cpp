#include "compile/compile.h"

#include <algorithm>
#include <stdexcept>

#include "compile/parts.h"
#include "filter/builtins.h"

namespace vmgw {

std::string names::uplink_chain(const std::string& uplink) {
  return "uplink-" + uplink;
}
std::string names::vm_egress_chain(const std::string& vm) {
  return "vm-" + vm + "-out";
}
std::string names::vm_ingress_chain(const std::string& vm) {
  return "vm-" + vm + "-in";
}

namespace compile_detail {

Index::Index(const Config& c, const UplinkConditions& h) : config(c), health(h) {
  for (const auto& u : c.uplinks) uplinks[u.name] = &u;
  for (const auto& n : c.networks) networks[n.name] = &n;
  for (const auto& v : c.vms) vms[v.name] = &v;
  for (const auto& p : c.eip_pools) pools[p.name] = &p;
  for (const auto& f : c.port_forwards) forwards.push_back(&f);
  std::sort(forwards.begin(), forwards.end(), [](const PortForward* a, const PortForward* b) {
    return std::tie(*a->public_address, a->proto, a->public_ports->first) <
           std::tie(*b->public_address, b->proto, b->public_ports->first);
  });
  for (const auto& b : c.eip_bindings) bindings.push_back(&b);
  std::sort(bindings.begin(), bindings.end(),
            [](const ElasticIpBinding* a, const ElasticIpBinding* b) {
              return *a->address < *b->address;
            });
}

const Uplink& Index::uplink_of_eip(Ipv4 eip) const {
  for (const auto& [name, pool] : pools) {
    if (*pool->first <= eip && eip <= *pool->last) return *uplinks.at(pool->uplink);
  }
  // validate() rejects an elastic IP outside every pool, so this is a broken invariant.
  throw std::logic_error("elastic IP " + eip.str() + " is in no pool");
}

nft::Set& set_named(nft::Table& t, const std::string& name) {
  for (auto& s : t.sets)
    if (s.name == name) return s;
  throw std::logic_error("no set " + name);
}

nft::Chain& chain_named(nft::Table& t, const std::string& name) {
  for (auto& c : t.chains)
    if (c.name == name) return c;
  throw std::logic_error("no chain " + name);
}

}  // namespace compile_detail

Plan compile(const Validated<Config>& config, const filter::FilterCatalog& filters,
             const UplinkConditions& health) {
  using namespace compile_detail;
  const Index ix(config.get(), health);
  Plan plan;
  declare_table(plan.table);
  declare_bridge_table(plan.bridge_table);
  compile_nat(ix, plan.table);
  compile_uplinks(ix, plan.table);
  compile_dscp(ix, plan.table);
  compile_filter(ix, plan.table);
  compile_vm_filters(ix, filters, plan);
  compile_network(ix, plan);
  compile_routing(ix, plan);
  compile_dhcp(ix, plan);
  return plan;
}

Plan compile(const Validated<Config>& config) {
  return compile(config, filter::builtin_catalog());
}

filter::Instantiation instantiate_vm(const Config& config, const Vm& vm,
                                     const filter::FilterCatalog& filters) {
  filter::Variables defaults;
  if (vm.ip) defaults["IP"] = {vm.ip->str()};
  if (vm.mac) defaults["MAC"] = {vm.mac->str()};
  for (const auto& n : config.networks) {
    if (n.name == vm.network && n.dhcp && n.gateway) defaults["DHCPSERVER"] = {n.gateway->str()};
  }
  std::vector<filter::Binding> bindings;
  for (const auto& f : vm.filters) bindings.push_back({f.filter, f.params});
  return filter::instantiate(filters, bindings, defaults, vm.origin.path);
}

Diagnostics check_filters(const Config& config, const filter::FilterCatalog& filters) {
  Diagnostics out;
  for (const auto& vm : config.vms) {
    if (vm.filters.empty()) continue;
    auto inst = instantiate_vm(config, vm, filters);
    for (auto& d : inst.errors) {
      if (d.where.file.empty()) d.where = vm.origin.at("filters");
      out.push_back(std::move(d));
    }
  }
  return out;
}

}  // namespace vmgw
