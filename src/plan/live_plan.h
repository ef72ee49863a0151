// The plan in force, as the daemon holds it between changes: its base and, per object (VM,
// forward, elastic IP binding), a footprint of its contribution (element keys and values, chain
// names, ports, addresses, DHCP reservations). A change replaces the contributions of the objects
// it touches, and step() finds the batch from those alone: the one diff_table() would find
// between the whole plans before and after, without reading the kernel back and without
// compiling or comparing the objects that did not change. Pure.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "compile/contribution.h"
#include "compile/plan.h"
#include "plan/nft_diff.h"

namespace vmgw {

// What a change does to the host, found without reading it.
struct PlanDelta {
  NftChange nft;                   // one batch for both tables: one kernel transaction
  std::vector<PlannedPort> ports;  // bridge ports the change adds (plugged in when they exist)
  std::vector<PlannedAddress> add_addresses, remove_addresses;
  std::vector<DhcpServer> dhcp;        // the servers whose reservations change, as they become
  std::vector<PlannedSysctl> sysctls;  // the plan's after the change (cheap to check)
};

// One object's new contribution, or nullopt when the object goes.
struct ObjectChange {
  std::string key;  // object_key()
  std::optional<Contribution> after;
};

// What an object holds: enough to take it out again and to find its chains.
struct Footprint {
  struct Elem {
    NftTable table;
    std::string set;
    std::string key, value;  // compact JSON; value "null" in a plain set
  };
  struct ChainName {
    NftTable table;
    std::string name;
  };
  std::vector<Elem> elements;
  std::vector<ChainName> chains;  // the chains it holds (shared with others by name)
  std::vector<PlannedPort> ports;
  std::vector<PlannedAddress> addresses;
  std::vector<std::pair<std::string, DhcpReservation>> reservations;
  bool filtered = false, quarantined = false;
};

class LivePlan {
 public:
  // The plan in force becomes `base` plus `all` (at start, reload, after a heal).
  void reset(Plan base, const std::vector<KeyedContribution>& all);

  const Plan& base() const { return base_; }
  CompileFlags flags() const;
  // The flags once `changes` are made: they choose the base (compile_base).
  CompileFlags flags_after(const std::vector<ObjectChange>& changes) const;

  // From the plan in force to the one with `changes` and the base `next_base` (nullptr: the
  // base stays). Throws std::logic_error if an object appears twice in `changes`.
  PlanDelta step(const std::vector<ObjectChange>& changes, const Plan* next_base = nullptr) const;
  // Makes `changes` (and `next_base`) the plan in force, once the host took step()'s delta.
  // Returns the keys of the objects whose nftables footprint (elements, chains) the change
  // made different: those that came, went, or whose rules or values changed.
  std::vector<std::string> commit(const std::vector<ObjectChange>& changes,
                                  const Plan* next_base = nullptr);

  // Every DHCP server with its reservations, as in force.
  const std::vector<DhcpServer>& dhcp() const { return dhcp_; }
  const Footprint* footprint(const std::string& key) const;
  // How many objects hold the chain (VMs sharing a filter group), 0 if none.
  int holders(NftTable table, const std::string& chain) const;
  // The declaration (without elements) of a set in force, of the base or of a chain in force;
  // nullptr if none. Linear in the distinct chains in force, not in the VMs.
  const nft::Set* declared_set(NftTable table, const std::string& name) const;
  size_t objects() const { return objects_.size(); }
  // The set elements the objects hold (their share of the kernel's memory), now and after
  // `changes`.
  size_t elements() const { return elements_; }
  size_t elements_after(const std::vector<ObjectChange>& changes) const;
  // The host part of the plan in force: the base's links, addresses, routing and sysctls, every
  // object's ports and addresses, the DHCP servers; no nftables. What self-healing diffs the
  // kernel against. O(objects).
  Plan host() const;
  // The objects' share of host(), looked up instead of copied (self-healing asks on every
  // notification, and copying 50 000 VMs' ports made each change O(VMs)): the bridge of the
  // port `device` an object holds (nullptr if none), and whether an object holds `address`.
  const std::string* object_port(const std::string& device) const;
  bool object_address(const PlannedAddress& address) const;
  // Changes with every reset() and commit(), so that what is derived from the plan in force can
  // be cached.
  uint64_t version() const { return version_; }

 private:
  using ChainKey = std::pair<NftTable, std::string>;
  Plan base_;  // nft tables: the base only
  std::vector<DhcpServer> dhcp_;
  std::unordered_map<std::string, Footprint> objects_;
  std::map<ChainKey, int> holders_;  // chains by the number of objects holding them
  // What the chains in force bring (their sets, a program's dispatch rule), by chain.
  std::map<ChainKey, std::shared_ptr<const ChainParts>> parts_;
  int filtered_ = 0, quarantined_ = 0;
  size_t elements_ = 0;
  std::unordered_map<std::string, int> address_holders_;  // "device address" -> objects
  // device -> (bridge, objects holding it): counted, as a change may take a port from one VM
  // and give it to another in either order.
  std::unordered_map<std::string, std::pair<std::string, int>> object_ports_;
  uint64_t version_ = 0;
};

}  // namespace vmgw
