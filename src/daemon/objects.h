// The objects in force in the daemon (the stored state and the desired Config made of it, with
// the topology), with the lookups a change needs: a VM by name, MAC, address or bridge port, an
// elastic IP by address or by VM, the forwards of a VM or overlapping a public port range. Each
// lookup is O(log N) or O(1), and a committed change updates them in O(changed objects), so no
// API operation scans every VM.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/config.h"
#include "store/state.h"

namespace vmgw::daemon {

// One API operation's change to the stored objects: what it puts (adds or replaces, by key) and
// what it removes. Applied to the objects in force only once the kernel and the store took it.
struct StateChange {
  std::vector<store::VmRecord> put_vms;  // by name
  std::vector<std::string> removed_vms;
  std::vector<store::FilterRecord> put_filters;  // by name
  std::vector<std::string> removed_filters;
  std::vector<store::EipRecord> put_eips;  // by address; an unbound one has no vm
  std::vector<Ipv4> removed_eips;
  std::vector<store::ForwardRecord> put_forwards;  // by address, proto and first port
  std::vector<store::ForwardRecord> removed_forwards;
};

// Makes `c` part of `s`, keeping every list in its sorted order (binary searches): `s`'s lists
// must be sorted (Objects' VMs are not: sort them first).
void apply_change(store::StoredState& s, const StateChange& c);

class Objects {
 public:
  // `topology` declares no VMs, forwards or bindings (Gateway::check_topology).
  void reset(const Config& topology, store::StoredState state);
  void apply(const StateChange& c);  // also bumps nothing: the caller sets the generation
  void set_generation(uint64_t g) { state_.generation = g; }

  // The VMs are in no particular order (a VM added or removed moves no other: at 50 000 VMs,
  // keeping them sorted cost add vm half its time); the other lists are sorted.
  const store::StoredState& state() const { return state_; }
  // The topology with the stored objects: what the plan in force was compiled from.
  const Config& desired() const { return desired_; }

  const store::VmRecord* vm(const std::string& name) const;
  const Vm* desired_vm(const std::string& name) const;
  // The VM using a MAC, an address or a bridge port; "" if none.
  std::string vm_with_mac(const Mac& m) const;
  std::string vm_with_ip(Ipv4 a) const;
  std::string vm_with_port(const std::string& port) const;
  const store::EipRecord* eip(Ipv4 address) const;
  const store::EipRecord* eip_of_vm(const std::string& vm) const;
  const store::FilterRecord* filter(const std::string& name) const;
  const store::ForwardRecord* forward(Ipv4 address, Proto proto, uint32_t first_port) const;
  std::vector<store::ForwardRecord> forwards_of_vm(const std::string& vm) const;
  // Forwards of the same public address and protocol whose ports overlap `ports`.
  std::vector<store::ForwardRecord> forwards_overlapping(Ipv4 address, Proto proto,
                                                         const PortRange& ports) const;
  uint64_t forwarded_ports() const { return forwarded_ports_; }

 private:
  void index_vm(const store::VmRecord& v, bool add);
  void index_eip(const store::EipRecord& e, bool add);
  void index_forward(const store::ForwardRecord& f, bool add);
  void put_vm(const store::VmRecord& v);
  void remove_vm(const std::string& name);

  Config topology_;
  store::StoredState state_;
  Config desired_;  // vms and port_forwards parallel to state_'s; bindings sorted by address
  // A VM's position in state_.vms and desired_.vms (parallel: the same VM at the same index).
  std::unordered_map<std::string, size_t> vm_at_;
  std::unordered_map<uint64_t, std::string> by_mac_;
  std::unordered_map<uint32_t, std::string> by_ip_;
  std::unordered_map<std::string, std::string> by_port_;
  std::unordered_map<std::string, Ipv4> eip_by_vm_;
  std::unordered_multimap<std::string, store::ForwardRecord> forwards_by_vm_;
  uint64_t forwarded_ports_ = 0;
};

}  // namespace vmgw::daemon
