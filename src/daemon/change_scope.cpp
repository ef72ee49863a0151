#include "daemon/change_scope.h"

#include <algorithm>
#include <map>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include "compile/contribution.h"
#include "daemon/desired.h"
#include "model/validate.h"

namespace vmgw::daemon {
namespace {

using ForwardId = std::tuple<Ipv4, Proto, uint32_t>;

ForwardId id_of(const store::ForwardRecord& f) {
  return {f.public_address, f.proto, f.public_ports.first};
}

std::string vm_key(const std::string& name) {
  Vm v;
  v.name = name;
  return object_key(v);
}

std::string forward_key(const store::ForwardRecord& f) {
  return object_key(to_forward(f, ""));
}

std::string eip_key(Ipv4 a) {
  ElasticIpBinding b;
  b.address = a;
  return object_key(b);
}

// The stored objects once the change is made (or as in force), looked up without building them.
class After {
 public:
  After(const Objects& o, const StateChange& c, bool as_in_force) : o_(o) {
    if (as_in_force) return;
    for (const auto& v : c.put_vms) vms_[v.name] = &v;
    for (const auto& n : c.removed_vms) vms_.emplace(n, nullptr);
    for (const auto& e : c.put_eips) eips_[e.address.value] = &e;
    for (const auto& a : c.removed_eips) eips_.emplace(a.value, nullptr);
    for (const auto& f : c.removed_forwards) forwards_gone_.insert(forward_key(f));
    for (const auto& f : c.put_forwards) forwards_gone_.insert(forward_key(f));  // replaced
  }
  const store::VmRecord* vm(const std::string& name) const {
    auto it = vms_.find(name);
    return it != vms_.end() ? it->second : o_.vm(name);
  }
  const store::EipRecord* eip(Ipv4 a) const {
    auto it = eips_.find(a.value);
    return it != eips_.end() ? it->second : o_.eip(a);
  }
  // A forward in force that the change removes or replaces.
  bool forward_gone(const store::ForwardRecord& f) const {
    return forwards_gone_.count(forward_key(f)) != 0;
  }

 private:
  const Objects& o_;
  std::unordered_map<std::string, const store::VmRecord*> vms_;
  std::unordered_map<uint32_t, const store::EipRecord*> eips_;
  std::unordered_set<std::string> forwards_gone_;
};

}  // namespace

ChangeScope change_scope(const Config& topology, const Objects& in_force, const StateChange& c,
                         const std::vector<std::string>& recompiled_vms, bool as_in_force) {
  ChangeScope scope;
  const After after(in_force, c, as_in_force);
  // Sorted as the desired config is (VMs by name, forwards by address, proto and port, elastic
  // IPs by address), so that the scope's errors are those of the whole config.
  std::map<std::string, store::VmRecord> vms;
  std::map<ForwardId, store::ForwardRecord> forwards;
  std::map<Ipv4, store::EipRecord> eips;
  auto add_vm = [&](const std::string& name) {
    if (name.empty()) return;
    if (const auto* v = after.vm(name)) vms.emplace(name, *v);
  };
  auto add_forward = [&](const store::ForwardRecord& f) {
    forwards.emplace(id_of(f), f);
    add_vm(f.vm);
  };
  auto add_binding = [&](const store::EipRecord& e) {
    if (e.vm.empty()) return;
    eips.emplace(e.address, e);
    add_vm(e.vm);
  };
  const bool check = !as_in_force;

  for (const auto& name : recompiled_vms) {
    scope.keys.insert(vm_key(name));
    add_vm(name);
  }
  for (const auto& v : c.put_vms) {
    scope.keys.insert(vm_key(v.name));
    add_vm(v.name);
    if (!check) continue;
    // The VMs it could share a MAC, an address or a bridge port with.
    for (const auto& other : {in_force.vm_with_mac(v.mac), in_force.vm_with_ip(v.ip),
                              v.port.empty() ? std::string() : in_force.vm_with_port(v.port)})
      if (other != v.name) add_vm(other);
  }
  for (const auto& name : c.removed_vms) {
    scope.keys.insert(vm_key(name));
    if (!check) {
      add_vm(name);
      continue;
    }
    // Whatever still refers to it is an error only the whole config can word.
    for (const auto& f : in_force.forwards_of_vm(name))
      if (!after.forward_gone(f)) scope.needs_whole = true;
    if (const auto* e = in_force.eip_of_vm(name)) {
      const auto* now = after.eip(e->address);
      if (now && now->vm == name) scope.needs_whole = true;
    }
  }
  uint64_t ports = in_force.forwarded_ports();
  for (const auto& f : c.removed_forwards) {
    scope.keys.insert(forward_key(f));
    if (!check) add_forward(f);
    ports -= f.public_ports.size();
  }
  for (const auto& f : c.put_forwards) {
    scope.keys.insert(forward_key(f));
    const auto* old = in_force.forward(f.public_address, f.proto, f.public_ports.first);
    if (!check) {
      if (old) add_forward(*old);
      continue;
    }
    add_forward(f);
    if (old) ports -= old->public_ports.size();
    ports += f.public_ports.size();
    for (const auto& g : in_force.forwards_overlapping(f.public_address, f.proto, f.public_ports))
      if (!after.forward_gone(g)) add_forward(g);
  }
  if (check && ports > kMaxForwardedPorts) scope.needs_whole = true;
  for (const auto& a : c.removed_eips) {
    scope.keys.insert(eip_key(a));
    if (!check)
      if (const auto* e = in_force.eip(a)) add_binding(*e);
  }
  for (const auto& e : c.put_eips) {
    scope.keys.insert(eip_key(e.address));
    if (!check) {
      if (const auto* old = in_force.eip(e.address)) add_binding(*old);
      continue;
    }
    add_binding(e);
    // The address the VM may already hold (bound once per VM).
    if (const auto* held = in_force.eip_of_vm(e.vm); held && held->address != e.address)
      if (const auto* now = after.eip(held->address)) add_binding(*now);
  }

  store::StoredState s;
  for (auto& [name, v] : vms) s.vms.push_back(std::move(v));
  for (auto& [id, f] : forwards) s.forwards.push_back(std::move(f));
  for (auto& [a, e] : eips) s.eips.push_back(std::move(e));
  scope.config = desired_config(topology, s);
  return scope;
}

Config desired_after(const Config& topology, const Objects& in_force, const StateChange& c) {
  store::StoredState s = in_force.state();
  std::sort(s.vms.begin(), s.vms.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  apply_change(s, c);
  return desired_config(topology, s);
}

}  // namespace vmgw::daemon
