// The compiler's parts, one per concern. Each appends to the Plan; compile.cpp fixes the order.
// Internal to compile/.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compile/compile.h"
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
};

nft::Set& set_named(nft::Table& t, const std::string& name);
nft::Chain& chain_named(nft::Table& t, const std::string& name);

// The static skeleton: every set/map and base chain, empty.
void declare_table(nft::Table& t);
void declare_bridge_table(nft::Table& t);
void compile_nat(const Index& ix, nft::Table& t);
void compile_filter(const Index& ix, nft::Table& t);
void compile_network(const Index& ix, Plan& p);
// Policy routing: tables, rules, nexthops and groups for the uplinks (routing.cpp).
void compile_routing(const Index& ix, Plan& p);
// nft: flows pinned to their uplink by conntrack mark, SNAT per uplink (uplinks.cpp).
void compile_uplinks(const Index& ix, nft::Table& t);
// nft: DSCP marking of traffic leaving through the uplinks (dscp.cpp).
void compile_dscp(const Index& ix, nft::Table& t);
void compile_dhcp(const Index& ix, Plan& p);
// Per-VM filters (both tables), quarantine and the br_netfilter switch.
void compile_vm_filters(const Index& ix, const filter::FilterCatalog& catalog, Plan& p);

}  // namespace vmgw::compile_detail
