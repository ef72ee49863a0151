#include "daemon/objects.h"

#include <algorithm>
#include <stdexcept>
#include <tuple>

#include "daemon/desired.h"

namespace vmgw::daemon {
namespace {

uint64_t mac_key(const Mac& m) {
  uint64_t k = 0;
  for (uint8_t b : m.bytes) k = (k << 8) | b;
  return k;
}

auto forward_id(const store::ForwardRecord& f) {
  return std::make_tuple(f.public_address, f.proto, f.public_ports.first);
}

bool forward_less(const store::ForwardRecord& a, const store::ForwardRecord& b) {
  return forward_id(a) < forward_id(b);
}

bool same_forward(const store::ForwardRecord& a, const store::ForwardRecord& b) {
  return forward_id(a) == forward_id(b);
}

// Puts `x` in the sorted vector `v` in place of the element with the same key, or inserts it.
template <typename T, typename Less>
void put_sorted(std::vector<T>& v, T x, Less less) {
  auto it = std::lower_bound(v.begin(), v.end(), x, less);
  if (it != v.end() && !less(x, *it)) {
    *it = std::move(x);
  } else {
    v.insert(it, std::move(x));
  }
}

template <typename T, typename Less>
void erase_sorted(std::vector<T>& v, const T& x, Less less) {
  auto it = std::lower_bound(v.begin(), v.end(), x, less);
  if (it != v.end() && !less(x, *it)) v.erase(it);
}

const auto by_name = [](const auto& a, const auto& b) { return a.name < b.name; };
const auto by_address = [](const auto& a, const auto& b) { return a.address < b.address; };

template <typename T>
const T* find_sorted(const std::vector<T>& v, const T& probe, auto less) {
  auto it = std::lower_bound(v.begin(), v.end(), probe, less);
  return it != v.end() && !less(probe, *it) ? &*it : nullptr;
}

ElasticIpBinding binding_of(const store::EipRecord& e) {
  ElasticIpBinding b;
  b.origin.path = binding_path(e.address);
  b.address = e.address;
  b.vm = e.vm;
  b.pool = e.pool;
  return b;
}

bool binding_less(const ElasticIpBinding& a, const ElasticIpBinding& b) {
  return *a.address < *b.address;
}

}  // namespace

void apply_change(store::StoredState& s, const StateChange& c) {
  for (const auto& name : c.removed_vms)
    erase_sorted(s.vms, store::VmRecord{.name = name}, by_name);
  for (const auto& v : c.put_vms) put_sorted(s.vms, v, by_name);
  for (const auto& name : c.removed_filters)
    erase_sorted(s.filters, store::FilterRecord{name, ""}, by_name);
  for (const auto& f : c.put_filters) put_sorted(s.filters, f, by_name);
  for (const auto& a : c.removed_eips)
    erase_sorted(s.eips, store::EipRecord{a, "", ""}, by_address);
  for (const auto& e : c.put_eips) put_sorted(s.eips, e, by_address);
  for (const auto& f : c.removed_forwards) erase_sorted(s.forwards, f, forward_less);
  for (const auto& f : c.put_forwards) put_sorted(s.forwards, f, forward_less);
}

void Objects::reset(const Config& topology, store::StoredState state) {
  topology_ = topology;
  state_ = std::move(state);
  desired_ = desired_config(topology_, state_);
  if (desired_.vms.size() != state_.vms.size() ||
      desired_.port_forwards.size() != state_.forwards.size())
    throw std::logic_error("objects: the topology declares VMs or forwards of its own");
  vm_at_.clear();
  for (size_t i = 0; i < state_.vms.size(); ++i) vm_at_[state_.vms[i].name] = i;
  by_mac_.clear();
  by_ip_.clear();
  by_port_.clear();
  eip_by_vm_.clear();
  forwards_by_vm_.clear();
  forwarded_ports_ = 0;
  for (const auto& v : state_.vms) index_vm(v, true);
  for (const auto& e : state_.eips) index_eip(e, true);
  for (const auto& f : state_.forwards) index_forward(f, true);
}

void Objects::index_vm(const store::VmRecord& v, bool add) {
  if (add) {
    by_mac_[mac_key(v.mac)] = v.name;
    by_ip_[v.ip.value] = v.name;
    if (!v.port.empty()) by_port_[v.port] = v.name;
    return;
  }
  by_mac_.erase(mac_key(v.mac));
  by_ip_.erase(v.ip.value);
  if (!v.port.empty()) by_port_.erase(v.port);
}

void Objects::index_eip(const store::EipRecord& e, bool add) {
  if (e.vm.empty()) return;
  if (add) {
    eip_by_vm_[e.vm] = e.address;
  } else {
    eip_by_vm_.erase(e.vm);
  }
}

void Objects::index_forward(const store::ForwardRecord& f, bool add) {
  if (add) {
    forwards_by_vm_.emplace(f.vm, f);
    forwarded_ports_ += f.public_ports.size();
    return;
  }
  auto [from, to] = forwards_by_vm_.equal_range(f.vm);
  for (auto it = from; it != to; ++it) {
    if (same_forward(it->second, f)) {
      forwarded_ports_ -= it->second.public_ports.size();
      forwards_by_vm_.erase(it);
      return;
    }
  }
}

void Objects::apply(const StateChange& c) {
  // Out of the indexes first (as they were), then in (as they become).
  for (const auto& name : c.removed_vms)
    if (const auto* v = vm(name)) index_vm(*v, false);
  for (const auto& v : c.put_vms)
    if (const auto* old = vm(v.name)) index_vm(*old, false);
  for (const auto& a : c.removed_eips)
    if (const auto* e = eip(a)) index_eip(*e, false);
  for (const auto& e : c.put_eips)
    if (const auto* old = eip(e.address)) index_eip(*old, false);
  for (const auto& f : c.removed_forwards) index_forward(f, false);
  for (const auto& f : c.put_forwards)
    if (const auto* old = forward(f.public_address, f.proto, f.public_ports.first))
      index_forward(*old, false);

  // The VMs by position (unsorted), the rest sorted.
  for (const auto& name : c.removed_vms) remove_vm(name);
  for (const auto& v : c.put_vms) put_vm(v);
  StateChange rest = c;
  rest.removed_vms.clear();
  rest.put_vms.clear();
  apply_change(state_, rest);

  // desired_: its forwards are parallel to the state's, its bindings the bound eips.
  auto desired_forward_less = [](const PortForward& a, const PortForward& b) {
    return std::tie(*a.public_address, a.proto, a.public_ports->first) <
           std::tie(*b.public_address, b.proto, b.public_ports->first);
  };
  for (const auto& f : c.removed_forwards)
    erase_sorted(desired_.port_forwards, to_forward(f, forward_path(f)), desired_forward_less);
  for (const auto& f : c.put_forwards)
    put_sorted(desired_.port_forwards, to_forward(f, forward_path(f)), desired_forward_less);
  for (const auto& a : c.removed_eips) {
    ElasticIpBinding probe;
    probe.address = a;
    erase_sorted(desired_.eip_bindings, probe, binding_less);
  }
  for (const auto& e : c.put_eips) {
    if (e.vm.empty()) {
      erase_sorted(desired_.eip_bindings, binding_of(e), binding_less);
    } else {
      put_sorted(desired_.eip_bindings, binding_of(e), binding_less);
    }
  }

  for (const auto& v : c.put_vms) index_vm(v, true);
  for (const auto& e : c.put_eips) index_eip(e, true);
  for (const auto& f : c.put_forwards) index_forward(f, true);
}

void Objects::put_vm(const store::VmRecord& v) {
  auto [it, added] = vm_at_.try_emplace(v.name, state_.vms.size());
  if (added) {
    state_.vms.push_back(v);
    desired_.vms.push_back(to_vm(v, vm_path(v.name)));
  } else {
    state_.vms[it->second] = v;
    desired_.vms[it->second] = to_vm(v, vm_path(v.name));
  }
}

void Objects::remove_vm(const std::string& name) {
  auto it = vm_at_.find(name);
  if (it == vm_at_.end()) return;
  // The last VM takes the place of the one that goes.
  const size_t at = it->second, last = state_.vms.size() - 1;
  vm_at_.erase(it);
  if (at != last) {
    state_.vms[at] = std::move(state_.vms[last]);
    desired_.vms[at] = std::move(desired_.vms[last]);
    vm_at_[state_.vms[at].name] = at;
  }
  state_.vms.pop_back();
  desired_.vms.pop_back();
}

const store::VmRecord* Objects::vm(const std::string& name) const {
  auto it = vm_at_.find(name);
  return it == vm_at_.end() ? nullptr : &state_.vms[it->second];
}

const Vm* Objects::desired_vm(const std::string& name) const {
  auto it = vm_at_.find(name);
  return it == vm_at_.end() ? nullptr : &desired_.vms[it->second];
}

std::string Objects::vm_with_mac(const Mac& m) const {
  auto it = by_mac_.find(mac_key(m));
  return it == by_mac_.end() ? "" : it->second;
}

std::string Objects::vm_with_ip(Ipv4 a) const {
  auto it = by_ip_.find(a.value);
  return it == by_ip_.end() ? "" : it->second;
}

std::string Objects::vm_with_port(const std::string& port) const {
  auto it = by_port_.find(port);
  return it == by_port_.end() ? "" : it->second;
}

const store::EipRecord* Objects::eip(Ipv4 address) const {
  return find_sorted(state_.eips, store::EipRecord{address, "", ""}, by_address);
}

const store::EipRecord* Objects::eip_of_vm(const std::string& vm) const {
  auto it = eip_by_vm_.find(vm);
  return it == eip_by_vm_.end() ? nullptr : eip(it->second);
}

const store::FilterRecord* Objects::filter(const std::string& name) const {
  return find_sorted(state_.filters, store::FilterRecord{name, ""}, by_name);
}

const store::ForwardRecord* Objects::forward(Ipv4 address, Proto proto, uint32_t first_port) const {
  store::ForwardRecord probe;
  probe.public_address = address;
  probe.proto = proto;
  probe.public_ports = {first_port, first_port};
  return find_sorted(state_.forwards, probe, forward_less);
}

std::vector<store::ForwardRecord> Objects::forwards_of_vm(const std::string& vm) const {
  std::vector<store::ForwardRecord> out;
  auto [from, to] = forwards_by_vm_.equal_range(vm);
  for (auto it = from; it != to; ++it) out.push_back(it->second);
  std::sort(out.begin(), out.end(), forward_less);
  return out;
}

std::vector<store::ForwardRecord> Objects::forwards_overlapping(Ipv4 address, Proto proto,
                                                                const PortRange& ports) const {
  // Stored forwards never overlap each other, so only the one starting before `ports` can reach
  // into it, and the others start inside it.
  std::vector<store::ForwardRecord> out;
  store::ForwardRecord probe;
  probe.public_address = address;
  probe.proto = proto;
  probe.public_ports = ports;
  auto it = std::lower_bound(state_.forwards.begin(), state_.forwards.end(), probe, forward_less);
  if (it != state_.forwards.begin()) {
    const auto& prev = *std::prev(it);
    if (prev.public_address == address && prev.proto == proto && prev.public_ports.overlaps(ports))
      out.push_back(prev);
  }
  for (; it != state_.forwards.end() && it->public_address == address && it->proto == proto &&
         it->public_ports.first <= ports.last;
       ++it)
    out.push_back(*it);
  return out;
}

}  // namespace vmgw::daemon
