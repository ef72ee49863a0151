#include "daemon/gateway.h"

#include <algorithm>
#include <chrono>

#include "compile/compile.h"
#include "daemon/desired.h"
#include "model/validate.h"

namespace vmgw::daemon {
namespace {

std::string join_reasons(const std::vector<std::pair<std::string, std::string>>& errors) {
  std::string out;
  for (const auto& [field, reason] : errors)
    out += (out.empty() ? "" : "; ") + (field.empty() ? reason : field + ": " + reason);
  return out;
}

// Errors from validating the whole desired config, as API errors. Errors about the object the
// request creates (`subject`, e.g. "vm 'web'") name the request's own field ("ip"); errors about
// other objects keep their full path.
std::vector<std::pair<std::string, std::string>> as_errors(const Diagnostics& d,
                                                           const std::string& subject) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : d) {
    std::string field = e.path;
    if (!subject.empty() && field.rfind(subject + ".", 0) == 0)
      field = field.substr(subject.size() + 1);
    if (!e.where.file.empty())
      field = e.where.file + ":" + std::to_string(e.where.line) + ": " + field;
    out.emplace_back(field, e.reason);
  }
  return out;
}

const Network* find_network(const Config& c, const std::string& name) {
  for (const auto& n : c.networks)
    if (n.name == name) return &n;
  return nullptr;
}

const ElasticIpPool* find_pool(const Config& c, const std::string& name) {
  for (const auto& p : c.eip_pools)
    if (p.name == name) return &p;
  return nullptr;
}

template <typename T, typename Less>
void insert_sorted(std::vector<T>& v, T x, Less less) {
  v.insert(std::upper_bound(v.begin(), v.end(), x, less), std::move(x));
}

bool forward_less(const store::ForwardRecord& a, const store::ForwardRecord& b) {
  return std::tie(a.public_address, a.proto, a.public_ports.first) <
         std::tie(b.public_address, b.proto, b.public_ports.first);
}

}  // namespace

ServiceError::ServiceError(int s, std::vector<std::pair<std::string, std::string>> e)
    : std::runtime_error(join_reasons(e)), status(s), errors(std::move(e)) {}

Gateway::Gateway(Config topology, Dependencies deps)
    : topology_(std::move(topology)), deps_(deps) {}

void Gateway::check_topology(const Config& c) {
  // With the daemon, VMs, forwards and bindings are objects of the API (persisted in the store);
  // the file is the host's topology. One source per kind keeps "who owns this" unambiguous.
  std::vector<std::pair<std::string, std::string>> errors;
  const std::string why =
      " are created through the API when vmgwd runs (vmgw vm/forward/eip); remove them from the "
      "config file";
  if (!c.vms.empty()) errors.emplace_back("vms", "VMs" + why);
  if (!c.port_forwards.empty()) errors.emplace_back("port_forwards", "port forwards" + why);
  if (!c.eip_bindings.empty())
    errors.emplace_back("elastic_ips.bindings", "elastic IP bindings" + why);
  for (size_t i = 0; i < c.dscp.size(); ++i) {
    if (!c.dscp[i].vm.empty())
      errors.emplace_back("dscp[" + std::to_string(i) + "].vm",
                          "with vmgwd, VMs are API objects: select the VM's traffic by its "
                          "network or its address (from:)");
  }
  if (!errors.empty()) throw ServiceError(400, errors);
}

Plan Gateway::plan_for(const store::StoredState& s, const Config& topology,
                       const std::string& subject) const {
  auto result = validate(desired_config(topology, s));
  if (auto* d = std::get_if<Diagnostics>(&result)) throw ServiceError(400, as_errors(*d, subject));
  const auto& config = std::get<Validated<Config>>(result);
  auto catalog = catalog_for(s);
  auto filter_errors = check_filters(config.get(), catalog);
  if (!filter_errors.empty()) throw ServiceError(400, as_errors(filter_errors, subject));
  return compile(config, catalog, health_);
}

const std::vector<Vm>& Gateway::vms() const {
  return desired_.vms;
}

ApplyReport Gateway::start() {
  check_topology(topology_);
  state_ = deps_.store.load();
  health_ = conditions_for(topology_);
  plan_ = plan_for(state_, topology_);
  desired_ = desired_config(topology_, state_);
  catalog_ = catalog_for(state_);
  auto report = apply(plan_, deps_.backends);
  ++counters_.applies;
  if (!report.nft.empty()) ++counters_.nft_transactions;
  last_apply_ = report.summary();
  return report;
}

ApplyReport Gateway::heal() {
  auto report = apply(plan_, deps_.backends);
  if (report.changed()) {
    ++counters_.applies;
    if (!report.nft.empty()) ++counters_.nft_transactions;
    last_apply_ = "restored: " + report.summary();
  }
  return report;
}

ApplyReport Gateway::reload(Config topology) {
  check_topology(topology);
  auto health = health_;
  health_ = conditions_for(topology);
  Plan next;
  ApplyReport report;
  try {
    next = plan_for(state_, topology);
    report = apply(next, deps_.backends);
  } catch (...) {
    health_ = std::move(health);  // the previous topology stays in force, with its health
    throw;
  }
  ++counters_.applies;
  if (!report.nft.empty()) ++counters_.nft_transactions;
  topology_ = std::move(topology);
  plan_ = std::move(next);
  desired_ = desired_config(topology_, state_);
  last_apply_ = report.summary();
  return report;
}

ApplyReport Gateway::commit(store::StoredState candidate,
                            const std::function<void(store::StoreTxn&)>& write,
                            const std::string& change, const std::string& subject) {
  const auto started = std::chrono::steady_clock::now();
  Plan next = plan_for(candidate, topology_, subject);
  candidate.generation = state_.generation + 1;
  ApplyReport report;
  try {
    auto txn = deps_.store.begin();
    write(*txn);
    txn->set_generation(candidate.generation);
    try {
      report = apply(next, deps_.backends);
      txn->commit();
    } catch (...) {
      // Put the kernel back to the generation still in the store (a no-op if the kernel
      // refused the batch as a whole).
      try {
        apply(plan_, deps_.backends);
      } catch (...) {  // the next reconcile retries; the original error is what matters
      }
      throw;
    }
  } catch (const ServiceError&) {
    ++counters_.apply_errors;
    throw;
  } catch (const store::StoreConflict& e) {
    ++counters_.apply_errors;
    throw ServiceError(409, "", e.what());
  } catch (const backend::NftError& e) {
    ++counters_.apply_errors;
    // Name what was asked and what the kernel refused: "the kernel refused to add vm 'db':
    // add element 10.10.0.3 to set inet vmgw vm_flows (command 4 of 9): Error: ...".
    throw ServiceError(
        500, "",
        "the kernel refused to " + change + ": " + e.what() + "; the previous state is in force");
  } catch (const std::exception& e) {
    ++counters_.apply_errors;
    throw ServiceError(
        500, "", "could not " + change + ": " + e.what() + "; the previous state is in force");
  }
  ++counters_.applies;
  if (!report.nft.empty()) ++counters_.nft_transactions;
  counters_.apply_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  state_ = std::move(candidate);
  plan_ = std::move(next);
  desired_ = desired_config(topology_, state_);
  catalog_ = catalog_for(state_);
  last_apply_ = report.summary();
  return report;
}

const store::VmRecord* Gateway::stored_vm(const std::string& name) const {
  for (const auto& v : state_.vms)
    if (v.name == name) return &v;
  return nullptr;
}

const store::EipRecord* Gateway::stored_eip(Ipv4 address) const {
  for (const auto& e : state_.eips)
    if (e.address == address) return &e;
  return nullptr;
}

store::VmRecord Gateway::add_vm(const VmRequest& req) {
  for (const auto& v : desired_.vms) {
    if (v.name == req.name) throw ServiceError(409, "name", "vm '" + req.name + "' already exists");
    if (v.mac && *v.mac == req.mac)
      throw ServiceError(409, "mac", req.mac.str() + " is already used by vm '" + v.name + "'");
    if (req.ip && v.ip && *v.ip == *req.ip)
      throw ServiceError(409, "ip", req.ip->str() + " is already used by vm '" + v.name + "'");
  }
  const Network* net = find_network(topology_, req.network);
  if (!net) throw ServiceError(400, "network", "unknown network '" + req.network + "'");
  store::VmRecord rec{req.name, req.network, req.mac, Ipv4{}, req.port, req.filters, {}};
  if (req.ip) {
    rec.ip = *req.ip;
  } else {
    // The next free address: not the network, broadcast or gateway address, nor any VM's.
    std::vector<Ipv4> used = {*net->gateway};
    for (const auto& v : desired_.vms)
      if (v.ip) used.push_back(*v.ip);
    bool found = false;
    for (uint32_t a = net->subnet->first().value + 1; a < net->subnet->last().value; ++a) {
      if (std::find(used.begin(), used.end(), Ipv4{a}) == used.end()) {
        rec.ip = Ipv4{a};
        found = true;
        break;
      }
    }
    if (!found)
      throw ServiceError(409, "ip", "network '" + req.network + "' has no free address left");
  }
  auto candidate = state_;
  insert_sorted(candidate.vms, rec, [](const auto& a, const auto& b) { return a.name < b.name; });
  commit(
      candidate, [&](store::StoreTxn& t) { t.add_vm(rec); }, "add " + vm_path(rec.name),
      vm_path(rec.name));
  return rec;
}

RemovedVm Gateway::remove_vm(const std::string& name, bool release) {
  const store::VmRecord* vm = stored_vm(name);
  if (!vm) throw ServiceError(404, "name", "no vm '" + name + "'");
  RemovedVm removed{*vm, {}, {}};
  auto candidate = state_;
  std::erase_if(candidate.vms, [&](const auto& v) { return v.name == name; });
  for (auto& e : candidate.eips) {
    if (e.vm != name) continue;
    removed.unbound.push_back(e);
    e.vm.clear();
  }
  if (release)
    std::erase_if(candidate.eips, [&](const auto& e) {
      return std::any_of(removed.unbound.begin(), removed.unbound.end(),
                         [&](const auto& u) { return u.address == e.address; });
    });
  std::erase_if(candidate.forwards, [&](const auto& f) {
    if (f.vm != name) return false;
    removed.forwards.push_back(f);
    return true;
  });
  commit(
      candidate,
      [&](store::StoreTxn& t) {
        for (const auto& f : removed.forwards)
          t.delete_forward(f.public_address, f.proto, f.public_ports.first);
        for (const auto& e : removed.unbound) {
          if (release) {
            t.delete_eip(e.address);
          } else {
            t.set_eip_vm(e.address, "");
          }
        }
        t.delete_vm(name);
      },
      "remove " + vm_path(name));
  for (const auto& e : removed.unbound) cut_flows(e.address, removed.vm.ip);
  return removed;
}

store::EipRecord Gateway::allocate_eip(const std::optional<std::string>& pool_name,
                                       std::optional<Ipv4> address) {
  if (topology_.eip_pools.empty())
    throw ServiceError(409, "pool", "no elastic IP pool is declared");
  const ElasticIpPool* pool = nullptr;
  if (pool_name) {
    pool = find_pool(topology_, *pool_name);
    if (!pool) throw ServiceError(404, "pool", "no pool '" + *pool_name + "'");
  } else if (address) {
    for (const auto& p : topology_.eip_pools)
      if (*p.first <= *address && *address <= *p.last) pool = &p;
    if (!pool)
      throw ServiceError(400, "address", address->str() + " is outside every elastic IP pool");
  } else {
    pool = &topology_.eip_pools.front();
  }
  store::EipRecord rec{Ipv4{}, pool->name, ""};
  if (address) {
    if (*address < *pool->first || *pool->last < *address)
      throw ServiceError(400, "address", address->str() + " is outside pool '" + pool->name + "'");
    if (stored_eip(*address))
      throw ServiceError(409, "address", address->str() + " is already allocated");
    rec.address = *address;
  } else {
    bool found = false;
    for (uint32_t a = pool->first->value; a <= pool->last->value && !found; ++a) {
      if (!stored_eip(Ipv4{a})) {
        rec.address = Ipv4{a};
        found = true;
      }
      if (a == UINT32_MAX) break;
    }
    if (!found) {
      throw ServiceError(409, "pool",
                         "pool '" + pool->name + "' is exhausted (" +
                             std::to_string(pool->last->value - pool->first->value + 1) +
                             " addresses, all allocated)");
    }
  }
  auto candidate = state_;
  insert_sorted(candidate.eips, rec,
                [](const auto& a, const auto& b) { return a.address < b.address; });
  commit(
      candidate, [&](store::StoreTxn& t) { t.add_eip(rec); },
      "allocate " + binding_path(rec.address));
  return rec;
}

store::EipRecord Gateway::bind_eip(Ipv4 address, const std::string& vm) {
  const store::EipRecord* eip = stored_eip(address);
  if (!eip) throw ServiceError(404, "address", address.str() + " is not allocated");
  const Vm* target = nullptr;
  for (const auto& v : desired_.vms)
    if (v.name == vm) target = &v;
  if (!target) throw ServiceError(404, "vm", "no vm '" + vm + "'");
  if (eip->vm == vm) return *eip;
  for (const auto& e : state_.eips) {
    if (e.vm == vm)
      throw ServiceError(409, "vm", "vm '" + vm + "' already has elastic IP " + e.address.str());
  }
  const std::string old_vm = eip->vm;
  std::optional<Ipv4> old_ip;
  for (const auto& v : desired_.vms)
    if (v.name == old_vm) old_ip = v.ip;
  auto candidate = state_;
  for (auto& e : candidate.eips)
    if (e.address == address) e.vm = vm;
  // One transaction: the DNAT/SNAT elements move from the old VM to the new one atomically.
  commit(
      candidate, [&](store::StoreTxn& t) { t.set_eip_vm(address, vm); },
      "bind " + binding_path(address) + " to " + vm_path(vm), binding_path(address));
  if (old_ip) cut_flows(address, *old_ip);
  for (const auto& u : topology_.uplinks) {
    for (const auto& p : topology_.eip_pools) {
      if (p.uplink == u.name && *p.first <= address && address <= *p.last) {
        try {
          deps_.announcer.announce(u.device, address);
        } catch (const std::exception&) {  // best effort: upstream learns it on its next ARP
        }
      }
    }
  }
  return *stored_eip(address);
}

store::EipRecord Gateway::unbind_eip(Ipv4 address) {
  const store::EipRecord* eip = stored_eip(address);
  if (!eip) throw ServiceError(404, "address", address.str() + " is not allocated");
  if (eip->vm.empty()) return *eip;
  std::optional<Ipv4> old_ip;
  for (const auto& v : desired_.vms)
    if (v.name == eip->vm) old_ip = v.ip;
  auto candidate = state_;
  for (auto& e : candidate.eips)
    if (e.address == address) e.vm.clear();
  commit(
      candidate, [&](store::StoreTxn& t) { t.set_eip_vm(address, ""); },
      "unbind " + binding_path(address));
  if (old_ip) cut_flows(address, *old_ip);
  return *stored_eip(address);
}

store::EipRecord Gateway::release_eip(Ipv4 address) {
  const store::EipRecord* eip = stored_eip(address);
  if (!eip) throw ServiceError(404, "address", address.str() + " is not allocated");
  if (!eip->vm.empty())
    throw ServiceError(409, "address",
                       address.str() + " is bound to vm '" + eip->vm + "'; unbind it first");
  for (const auto& f : state_.forwards)
    if (f.public_address == address)
      throw ServiceError(409, "address",
                         address.str() + " is used by port forward " + address.str() + ":" +
                             f.public_ports.str() + "/" + std::string(to_string(f.proto)));
  store::EipRecord rec = *eip;
  auto candidate = state_;
  std::erase_if(candidate.eips, [&](const auto& e) { return e.address == address; });
  commit(
      candidate, [&](store::StoreTxn& t) { t.delete_eip(address); },
      "release " + binding_path(address));
  return rec;
}

store::ForwardRecord Gateway::add_forward(const store::ForwardRecord& f) {
  for (const auto& x : desired_.port_forwards) {
    if (*x.public_address == f.public_address && x.proto == f.proto &&
        x.public_ports->overlaps(f.public_ports)) {
      throw ServiceError(409, "public",
                         f.public_address.str() + ":" + f.public_ports.str() + "/" +
                             std::string(to_string(f.proto)) + " is already forwarded to vm '" +
                             x.vm + "'");
    }
  }
  auto candidate = state_;
  insert_sorted(candidate.forwards, f, forward_less);
  commit(
      candidate, [&](store::StoreTxn& t) { t.add_forward(f); }, "add " + forward_path(f),
      forward_path(f));
  return f;
}

store::ForwardRecord Gateway::remove_forward(Ipv4 address, Proto proto, uint32_t first_port) {
  auto it = std::find_if(state_.forwards.begin(), state_.forwards.end(), [&](const auto& f) {
    return f.public_address == address && f.proto == proto && f.public_ports.first == first_port;
  });
  if (it == state_.forwards.end()) {
    throw ServiceError(404, "public",
                       "no port forward " + address.str() + ":" + std::to_string(first_port) + "/" +
                           std::string(to_string(proto)));
  }
  store::ForwardRecord rec = *it;
  auto candidate = state_;
  std::erase_if(candidate.forwards, [&](const auto& f) { return f == rec; });
  commit(
      candidate, [&](store::StoreTxn& t) { t.delete_forward(address, proto, first_port); },
      "remove " + forward_path(rec));
  // Connections already forwarded keep their conntrack entry and finish (documented).
  return rec;
}

void Gateway::cut_flows(Ipv4 eip, Ipv4 vm_ip) {
  try {
    counters_.conntrack_deleted +=
        deps_.conntrack.delete_matching({eip, vm_ip, std::nullopt, std::nullopt});
    counters_.conntrack_deleted +=
        deps_.conntrack.delete_matching({std::nullopt, std::nullopt, vm_ip, eip});
  } catch (const std::exception&) {
    // The binding is already gone from the kernel's NAT maps; stale flows time out.
  }
}

void Gateway::record_lease_event(const store::LeaseEventRecord& e) {
  deps_.store.append_lease_event(e);
}

}  // namespace vmgw::daemon
