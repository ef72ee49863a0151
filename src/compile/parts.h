// The compiler's parts, one per concern. Each appends to the Plan; compile.cpp fixes the order.
// Internal to compile/.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "compile/compile.h"
#include "compile/contribution.h"
#include "compile/plan.h"
#include "filter/catalog.h"
#include "model/config.h"

namespace vmgw::compile_detail {

// Lookups over the validated config, and its objects in a canonical (input-order independent)
// order so that output never depends on how the file was laid out.
struct Index {
  Index(const Config& c, const UplinkConditions& h);
  const Config& config;
  const UplinkConditions& health;
  std::map<std::string, const Uplink*> uplinks;
  std::map<std::string, const Network*> networks;
  std::map<std::string, const Vm*> vms;
  std::map<std::string, const ElasticIpPool*> pools;
  std::vector<const PortForward*> forwards;       // by public address, proto, port
  std::vector<const ElasticIpBinding*> bindings;  // by address

  // The uplink whose pool holds `eip` (validation guarantees there is one).
  const Uplink& uplink_of_eip(Ipv4 eip) const;
  // The uplink of the pool holding `address`, or nullptr when no pool holds it.
  const Uplink* pool_uplink(Ipv4 address) const;

  // Filter rules and chains already compiled in this compile, by what they were compiled from
  // (the VMs' own values masked): VMs bound to the same filters share chains, built once
  // (vm_filters.cpp; made on first use).
  mutable std::shared_ptr<struct FilterCache> filter_cache;
};

nft::Set& set_named(nft::Table& t, const std::string& name);
nft::Chain& chain_named(nft::Table& t, const std::string& name);

// The base: what the topology (and the flags) give, whatever the VMs, forwards and bindings.
// The static skeleton: every set/map and base chain, empty.
void declare_table(nft::Table& t);
void declare_bridge_table(nft::Table& t);
void compile_nat(const Index& ix, nft::Table& t);
void compile_filter(const Index& ix, nft::Table& t);
// The host's own policy: what may reach it (filter_input) and what it may send (filter_output,
// with host.output.policy drop only).
void compile_host(const Index& ix, nft::Table& t);
// An ICMP allow-list entry's rule (type, and code if given; counted, accepted), and its text
// ("destination-unreachable/frag-needed") for rule names.
nft::Rule icmp_rule(const IcmpMatch& m, const std::string& comment);
std::string icmp_text(const IcmpMatch& m);
// Replies and related traffic accepted; what conntrack cannot place dropped (counted).
void established_then_invalid(std::vector<nft::Rule>& rules);
// The quarantine chain, the dispatch to per-VM filters and the br_netfilter switch.
void compile_vm_dispatch(const Index& ix, CompileFlags flags, Plan& p);
void compile_network(const Index& ix, Plan& p);
// Policy routing: tables, rules, nexthops and groups for the uplinks (routing.cpp).
void compile_routing(const Index& ix, Plan& p);
// nft: flows pinned to their uplink by conntrack mark, SNAT per uplink (uplinks.cpp).
void compile_uplinks(const Index& ix, nft::Table& t);
// nft: DSCP marking of traffic leaving through the uplinks (dscp.cpp).
void compile_dscp(const Index& ix, nft::Table& t);
// Connection-tracking helpers: their objects and the chains that attach them (helpers.cpp).
void compile_helpers(const Index& ix, nft::Table& t);
void compile_dhcp(const Index& ix, Plan& p);

// Each object's contribution, one function per concern.
void contribute_forward(const Index& ix, const PortForward& f, Contribution& c);
void contribute_binding(const Index& ix, const ElasticIpBinding& b, Contribution& c);
void contribute_vm_counters(const Vm& vm, Contribution& c);  // its new-flow counters
// Per-VM filters (both tables) and quarantine. Filters that do not instantiate are a broken
// invariant (std::logic_error) unless `errors` collects them (check_filters' messages).
void contribute_vm_filters(const Index& ix, const filter::FilterCatalog& catalog, const Vm& vm,
                           Contribution& c, Diagnostics* errors);
// The errors of a VM's instantiation, located at its filters when they have no place of their
// own (check_filters).
void locate_filter_errors(const Vm& vm, Diagnostics& errors);
void contribute_vm_network(const Index& ix, const Vm& vm, Contribution& c);  // its bridge port
void contribute_vm_dhcp(const Index& ix, const Vm& vm, Contribution& c);     // its reservation

}  // namespace vmgw::compile_detail
