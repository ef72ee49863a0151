// A plan is a base (the skeleton, the topology's elements and the base chains' rules) plus one
// contribution per object of the config: a VM, a port forward, an elastic IP binding. compile()
// is built exactly that way, so a daemon that changes a few objects can replace their
// contributions and diff only those (plan/live_plan.h) and still hold what compile() would give.
#pragma once

#include <compare>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "compile/conditions.h"
#include "compile/plan.h"
#include "filter/catalog.h"
#include "model/validate.h"

namespace vmgw {

enum class NftTable { inet, bridge };  // plan.table, plan.bridge_table

struct PlacedElement {
  NftTable table;
  std::string set;
  nft::Element element;
};

// What a shared filter chain brings with it: the sets its rules look the VMs' own values up in
// (one per rule that hoists values, a counter per element: per-VM counts) and, for a program's
// root chain, its membership set and its rule in a dispatch chain. Created with the chain's
// first holder and deleted with its last, like the chain.
struct ChainParts {
  std::vector<nft::Set> sets;  // declarations, without elements
  std::string dispatch_chain;  // "" for a chain that is not a program's root
  nft::Rule dispatch;          // in dispatch_chain: the program's VMs jump to its root
};

// Shared chains are shared in memory too: a compile builds each once, however many VMs hold it.
struct PlacedChain {
  NftTable table;
  std::shared_ptr<const nft::Chain> chain;
  std::shared_ptr<const ChainParts> parts;  // null: the chain brings nothing
};

struct Contribution {
  std::vector<PlacedElement> elements;
  // Named by a hash of their content: objects that hold a chain of the same name hold the same
  // chain (VMs whose filters compile to the same rules share them).
  std::vector<PlacedChain> chains;
  std::vector<PlannedPort> ports;
  std::vector<PlannedAddress> addresses;
  std::vector<std::pair<std::string, DhcpReservation>> reservations;  // network, reservation
  bool filtered = false;     // a VM with filters: the base dispatches to per-VM filters
  bool quarantined = false;  // a quarantined VM
};

// What the base depends on besides the topology: whether any VM has filters or is quarantined.
struct CompileFlags {
  bool filtered = false;
  bool quarantined = false;
  auto operator<=>(const CompileFlags&) const = default;
};

struct KeyedContribution {
  std::string key;  // object_key(): "vm/web", "forward/203.0.113.2/tcp/8080", "eip/203.0.113.17"
  Contribution contribution;
};

std::string object_key(const Vm& vm);
std::string object_key(const PortForward& f);
std::string object_key(const ElasticIpBinding& b);

// The base of the plan of `config` (its VMs, forwards and bindings are not looked at, but for
// DSCP rules that name a VM: vmgwd, the one user of bases, refuses those), with the uplinks'
// `health` (its nexthop groups).
Plan compile_base(const Validated<Config>& config, CompileFlags flags,
                  const UplinkConditions& health = {});

// The contributions of the objects of `config`, in the order compile() adds them (VMs by name,
// forwards by public address, protocol and port, bindings by address); with `only`, just the
// objects whose keys it holds (the others may be there as what those refer to). Per-VM filters
// are looked up in `filters`. Filters that do not instantiate are collected in `filter_errors`
// (check_filters' messages; the contributions are then incomplete), or without it are a broken
// invariant (std::logic_error): check_filters() must have found nothing.
std::vector<KeyedContribution> contributions(const Validated<Config>& config,
                                             const filter::FilterCatalog& filters,
                                             const std::set<std::string>* only = nullptr,
                                             Diagnostics* filter_errors = nullptr);

CompileFlags flags_of(const std::vector<KeyedContribution>& all);

// Adds contributions to a base, in the given order (compile()'s order gives compile()'s plan).
void add_contributions(Plan& plan, const std::vector<const Contribution*>& in_order);

}  // namespace vmgw
