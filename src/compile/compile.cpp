#include "compile/compile.h"

#include <algorithm>
#include <map>
#include <set>
#include <stdexcept>

#include "compile/drop_log.h"
#include "compile/parts.h"
#include "filter/builtins.h"

namespace vmgw {

std::string names::uplink_chain(const std::string& uplink) {
  return "uplink-" + uplink;
}
std::string names::pinned_chain(const std::string& uplink) {
  return "pinned-" + uplink;
}
std::string names::eip_uplink_set(const std::string& uplink) {
  return "eip_via_" + uplink;
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

const Uplink* Index::pool_uplink(Ipv4 address) const {
  for (const auto& [name, pool] : pools)
    if (*pool->first <= address && address <= *pool->last) return uplinks.at(pool->uplink);
  return nullptr;
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

namespace {

void base_into(const compile_detail::Index& ix, CompileFlags flags, Plan& plan) {
  using namespace compile_detail;
  declare_table(plan.table);
  declare_bridge_table(plan.bridge_table);
  declare_drop_log(plan.table, NftTable::inet, ix.config.host.drop_log);
  declare_drop_log(plan.bridge_table, NftTable::bridge, ix.config.host.drop_log);
  compile_nat(ix, plan.table);
  compile_uplinks(ix, plan.table);
  compile_dscp(ix, plan.table);
  compile_helpers(ix, plan.table);
  compile_filter(ix, plan.table);
  compile_vm_dispatch(ix, flags, plan);
  compile_network(ix, plan);
  compile_routing(ix, plan);
  compile_dhcp(ix, plan);
}

std::vector<KeyedContribution> contributions_of(const compile_detail::Index& ix,
                                                const filter::FilterCatalog& filters,
                                                const std::set<std::string>* only,
                                                Diagnostics* filter_errors) {
  using namespace compile_detail;
  std::vector<KeyedContribution> out;
  auto wanted = [&](const std::string& key) { return !only || only->count(key) != 0; };
  for (const auto& [name, vm] : ix.vms) {
    std::string key = object_key(*vm);
    if (!wanted(key)) continue;
    Contribution c;
    contribute_vm_counters(*vm, c);
    contribute_vm_filters(ix, filters, *vm, c, filter_errors);
    contribute_vm_network(ix, *vm, c);
    contribute_vm_dhcp(ix, *vm, c);
    out.push_back({std::move(key), std::move(c)});
  }
  for (const PortForward* f : ix.forwards) {
    std::string key = object_key(*f);
    if (!wanted(key)) continue;
    Contribution c;
    contribute_forward(ix, *f, c);
    out.push_back({std::move(key), std::move(c)});
  }
  for (const ElasticIpBinding* b : ix.bindings) {
    std::string key = object_key(*b);
    if (!wanted(key)) continue;
    Contribution c;
    contribute_binding(ix, *b, c);
    out.push_back({std::move(key), std::move(c)});
  }
  return out;
}

}  // namespace

std::string object_key(const Vm& vm) {
  return "vm/" + vm.name;
}
std::string object_key(const PortForward& f) {
  return "forward/" + f.public_address->str() + "/" + std::string(to_string(f.proto)) + "/" +
         std::to_string(f.public_ports->first);
}
std::string object_key(const ElasticIpBinding& b) {
  return "eip/" + b.address->str();
}

Plan compile_base(const Validated<Config>& config, CompileFlags flags,
                  const UplinkConditions& health) {
  Plan plan;
  base_into(compile_detail::Index(config.get(), health), flags, plan);
  return plan;
}

std::vector<KeyedContribution> contributions(const Validated<Config>& config,
                                             const filter::FilterCatalog& filters,
                                             const std::set<std::string>* only,
                                             Diagnostics* filter_errors) {
  return contributions_of(compile_detail::Index(config.get(), {}), filters, only, filter_errors);
}

CompileFlags flags_of(const std::vector<KeyedContribution>& all) {
  CompileFlags f;
  for (const auto& k : all) {
    f.filtered = f.filtered || k.contribution.filtered;
    f.quarantined = f.quarantined || k.contribution.quarantined;
  }
  return f;
}

void add_contributions(Plan& plan, const std::vector<const Contribution*>& in_order) {
  auto table = [&](NftTable t) -> nft::Table& {
    return t == NftTable::inet ? plan.table : plan.bridge_table;
  };
  std::map<std::pair<NftTable, std::string>, nft::Set*> sets;
  auto set = [&](NftTable t, const std::string& name) -> nft::Set& {
    auto& s = sets[{t, name}];
    if (!s) s = &compile_detail::set_named(table(t), name);
    return *s;
  };
  // Each chain once, in order of first use, with the sets it brings; the programs' rules in
  // their dispatch chains sorted by program name (as LivePlan writes them).
  std::set<std::pair<NftTable, std::string>> shared;
  std::map<std::pair<NftTable, std::string>, std::map<std::string, const nft::Rule*>> dispatch;
  for (const Contribution* c : in_order)
    for (const auto& ch : c->chains) {
      if (!shared.insert({ch.table, ch.chain->name}).second) continue;
      table(ch.table).chains.push_back(*ch.chain);
      if (!ch.parts) continue;
      for (const auto& s : ch.parts->sets) table(ch.table).sets.push_back(s);
      if (!ch.parts->dispatch_chain.empty())
        dispatch[{ch.table, ch.parts->dispatch_chain}][ch.chain->name] = &ch.parts->dispatch;
    }
  for (const auto& [where, rules] : dispatch) {
    auto& chain = compile_detail::chain_named(table(where.first), where.second);
    for (const auto& [program, rule] : rules) chain.rules.push_back(*rule);
  }
  // Elements last: the chains' sets are declared above (and no pointer into the sets moves).
  for (const Contribution* c : in_order)
    for (const auto& e : c->elements) set(e.table, e.set).elements.push_back(e.element);
  std::map<std::string, DhcpServer*> servers;
  for (auto& d : plan.dhcp) servers[d.network] = &d;
  for (const Contribution* c : in_order) {
    plan.ports.insert(plan.ports.end(), c->ports.begin(), c->ports.end());
    plan.addresses.insert(plan.addresses.end(), c->addresses.begin(), c->addresses.end());
    for (const auto& [network, r] : c->reservations) servers.at(network)->reservations.push_back(r);
  }
  std::sort(plan.addresses.begin(), plan.addresses.end(), [](const auto& a, const auto& b) {
    return std::tie(a.device, a.address) < std::tie(b.device, b.address);
  });
  // An address two objects hold (an elastic IP bound and forwarded) is planned once.
  plan.addresses.erase(std::unique(plan.addresses.begin(), plan.addresses.end(),
                                   [](const auto& a, const auto& b) {
                                     return a.device == b.device && a.address == b.address;
                                   }),
                       plan.addresses.end());
  for (auto& d : plan.dhcp)
    std::sort(d.reservations.begin(), d.reservations.end(),
              [](const auto& a, const auto& b) { return a.ip < b.ip; });
}

Plan compile(const Validated<Config>& config, const filter::FilterCatalog& filters,
             const UplinkConditions& health) {
  const compile_detail::Index ix(config.get(), health);
  auto all = contributions_of(ix, filters, nullptr, nullptr);
  Plan plan;
  base_into(ix, flags_of(all), plan);
  std::vector<const Contribution*> in_order;
  in_order.reserve(all.size());
  for (const auto& k : all) in_order.push_back(&k.contribution);
  add_contributions(plan, in_order);
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
    compile_detail::locate_filter_errors(vm, inst.errors);
    out.insert(out.end(), inst.errors.begin(), inst.errors.end());
  }
  return out;
}

}  // namespace vmgw
