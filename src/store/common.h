// Shared by the StateStore implementations so that they agree to the word: how objects are named
// in errors, and the order load() returns them in.
#pragma once

#include <algorithm>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "model/net.h"
#include "store/state.h"
#include "store/state_store.h"

namespace vmgw::store::detail {

// Sorts as state.h promises: vms and filters by name, eips by address (numeric), forwards by
// address, proto, first port. A VM's filter bindings keep their order.
inline void sort_state(StoredState& s) {
  std::sort(s.vms.begin(), s.vms.end(),
            [](const VmRecord& a, const VmRecord& b) { return a.name < b.name; });
  std::sort(s.filters.begin(), s.filters.end(),
            [](const FilterRecord& a, const FilterRecord& b) { return a.name < b.name; });
  std::sort(s.eips.begin(), s.eips.end(),
            [](const EipRecord& a, const EipRecord& b) { return a.address < b.address; });
  std::sort(s.forwards.begin(), s.forwards.end(),
            [](const ForwardRecord& a, const ForwardRecord& b) {
              return std::tie(a.public_address, a.proto, a.public_ports.first) <
                     std::tie(b.public_address, b.proto, b.public_ports.first);
            });
}

inline std::string forward_name(Ipv4 address, Proto proto, const PortRange& ports) {
  return address.str() + ":" + ports.str() + "/" + std::string(to_string(proto));
}

inline std::string vm_exists(std::string_view name) {
  return "vm '" + std::string(name) + "' already exists";
}
inline std::string mac_taken(const Mac& mac, std::string_view owner) {
  return "MAC " + mac.str() + " is already used by vm '" + std::string(owner) + "'";
}
inline std::string ip_taken(Ipv4 ip, std::string_view owner) {
  return "IP " + ip.str() + " is already used by vm '" + std::string(owner) + "'";
}
inline std::string eip_allocated(Ipv4 address) {
  return "elastic IP " + address.str() + " is already allocated";
}
inline std::string eip_not_allocated(Ipv4 address) {
  return "elastic IP " + address.str() + " is not allocated";
}
inline std::string forward_exists(const ForwardRecord& f) {
  return "port forward " + forward_name(f.public_address, f.proto, f.public_ports) +
         " already exists";
}
inline std::string no_such_vm(std::string_view what, std::string_view vm) {
  return "cannot bind " + std::string(what) + " to vm '" + std::string(vm) + "': no such vm";
}
// What still points at a vm that is being deleted, both lists in load() order.
inline std::string vm_referenced(std::string_view vm, const std::vector<Ipv4>& eips,
                                 const std::vector<ForwardRecord>& forwards) {
  std::string text = "vm '" + std::string(vm) + "' is still referenced by ";
  std::string sep;
  for (Ipv4 a : eips) {
    text += sep + "elastic IP " + a.str();
    sep = ", ";
  }
  for (const auto& f : forwards) {
    text += sep + "port forward " + forward_name(f.public_address, f.proto, f.public_ports);
    sep = ", ";
  }
  return text;
}
// A change to a vm that does not exist: `what` is "filters", "quarantine".
inline std::string no_such_vm_to_set(std::string_view what, std::string_view vm) {
  return "cannot set " + std::string(what) + " of vm '" + std::string(vm) + "': no such vm";
}
// A quarantine source the store could not read back (host bits set, prefix over 32): refused
// with StoreError before anything is written.
inline void check_quarantine(std::string_view vm, const std::optional<QuarantineRecord>& q) {
  if (!q) return;
  for (const auto& c : q->allow_from) {
    if (Cidr::parse(c.str()) != c) {
      throw StoreError("cannot set quarantine of vm '" + std::string(vm) +
                       "': invalid source network " + c.str());
    }
  }
}
inline std::string txn_already_open() {
  return "a state transaction is already open on this store (one at a time)";
}
inline std::string txn_finished() {
  return "the state transaction is already finished";
}
inline std::string lease_event_in_txn() {
  return "cannot append a lease event while a state transaction is open on this store";
}

}  // namespace vmgw::store::detail
