#include "daemon/gateway.h"

#include <algorithm>

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

store::VmRecord Gateway::add_vm(const VmRequest& req) {
  if (objects_.vm(req.name))
    throw ServiceError(409, "name", "vm '" + req.name + "' already exists");
  if (auto owner = objects_.vm_with_mac(req.mac); !owner.empty())
    throw ServiceError(409, "mac", req.mac.str() + " is already used by vm '" + owner + "'");
  if (req.ip)
    if (auto owner = objects_.vm_with_ip(*req.ip); !owner.empty())
      throw ServiceError(409, "ip", req.ip->str() + " is already used by vm '" + owner + "'");
  const Network* net = find_network(topology_, req.network);
  if (!net) throw ServiceError(400, "network", "unknown network '" + req.network + "'");
  store::VmRecord rec{req.name, req.network, req.mac, Ipv4{}, req.port, req.filters, {}, req.owner};
  if (req.ip) {
    rec.ip = *req.ip;
  } else {
    // The next free address of the network's range (its whole subnet by default): not the
    // network, broadcast or gateway address, nor any VM's.
    uint32_t from = net->subnet->first().value + 1, to = net->subnet->last().value - 1;
    if (net->range) {
      from = std::max(from, net->range->first.value);
      to = std::min(to, net->range->second.value);
    }
    bool found = false;
    for (uint64_t a = from; a <= to; ++a) {
      const Ipv4 ip{static_cast<uint32_t>(a)};
      if (ip != *net->gateway && objects_.vm_with_ip(ip).empty()) {
        rec.ip = ip;
        found = true;
        break;
      }
    }
    if (!found)
      throw ServiceError(409, "ip",
                         "network '" + req.network + "' has no free address left" +
                             (net->range ? " in its range " + net->range->first.str() + "-" +
                                               net->range->second.str()
                                         : ""));
  }
  if (!req.eip_pool) {
    commit(
        {.put_vms = {rec}}, [&](store::StoreTxn& t) { t.add_vm(rec); }, "add " + vm_path(rec.name),
        vm_path(rec.name));
    return rec;
  }
  // With an elastic IP (vm add --eip): allocated and bound in the same transaction as the VM.
  store::EipRecord eip =
      pick_eip(req.eip_pool->empty() ? std::nullopt : std::optional(*req.eip_pool), std::nullopt);
  eip.vm = rec.name;
  commit(
      {.put_vms = {rec}, .put_eips = {eip}},
      [&](store::StoreTxn& t) {
        t.add_vm(rec);
        t.add_eip(eip);
      },
      "add " + vm_path(rec.name) + " with " + binding_path(eip.address), vm_path(rec.name));
  announce_eip(eip.address);
  return rec;
}

store::VmRecord Gateway::set_vm(const std::string& name, const VmInterfaceChange& change) {
  const store::VmRecord* found = objects_.vm(name);
  if (!found) throw ServiceError(404, "name", "no vm '" + name + "'");
  const store::VmRecord before = *found;
  store::VmRecord next = before;
  if (change.mac) next.mac = *change.mac;
  if (change.ip) next.ip = *change.ip;
  if (change.port) next.port = *change.port;
  if (change.filters) next.filters = *change.filters;
  if (next == before) return before;  // nothing changes: no transaction, no new generation
  const bool refiltered = next.filters != before.filters;
  const std::vector<Vm> filtered_before = {*find_vm(name)};
  if (auto owner = objects_.vm_with_mac(next.mac); !owner.empty() && owner != name)
    throw ServiceError(409, "mac", next.mac.str() + " is already used by vm '" + owner + "'");
  if (auto owner = objects_.vm_with_ip(next.ip); !owner.empty() && owner != name)
    throw ServiceError(409, "ip", next.ip.str() + " is already used by vm '" + owner + "'");
  StateChange c{.put_vms = {next}};
  const bool moved = next.ip != before.ip;
  if (moved) {
    // What sends traffic to the VM's address follows it: its forwards and its elastic IP are
    // put again, unchanged, so that their elements are compiled with the new address.
    c.put_forwards = objects_.forwards_of_vm(name);
    if (const auto* e = objects_.eip_of_vm(name)) c.put_eips = {*e};
  }
  commit(
      c,
      [&](store::StoreTxn& t) {
        t.set_vm_interface(name, next.mac, next.ip, next.port);
        if (refiltered) t.set_vm_filters(name, next.filters);
      },
      "set " + vm_path(name), vm_path(name));
  if (refiltered) cut_revoked_flows(filtered_before, catalog_, nullptr);
  if (moved) {
    // The old address is no longer the VM's: its flows (NATed to it, or from it) end now, as a
    // quarantine's do, rather than reach whoever takes the address next.
    try {
      counters_.conntrack_deleted += deps_.conntrack.delete_flows(deps_.conntrack.list(before.ip));
    } catch (const std::exception&) {  // the NAT maps already name the new address
    }
  }
  return next;
}

RemovedVm Gateway::remove_vm(const std::string& name, bool release) {
  const store::VmRecord* vm = objects_.vm(name);
  if (!vm) throw ServiceError(404, "name", "no vm '" + name + "'");
  RemovedVm removed{*vm, {}, objects_.forwards_of_vm(name)};
  StateChange c{.removed_vms = {name}, .removed_forwards = removed.forwards};
  if (const auto* e = objects_.eip_of_vm(name)) {
    removed.unbound.push_back(*e);
    if (release) {
      c.removed_eips.push_back(e->address);
    } else {
      c.put_eips.push_back({e->address, e->pool, ""});
    }
  }
  commit(
      c,
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
  const store::EipRecord rec = pick_eip(pool_name, address);
  commit(
      {.put_eips = {rec}}, [&](store::StoreTxn& t) { t.add_eip(rec); },
      "allocate " + binding_path(rec.address));
  return rec;
}

store::EipRecord Gateway::pick_eip(const std::optional<std::string>& pool_name,
                                   std::optional<Ipv4> address) const {
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
    if (objects_.eip(*address))
      throw ServiceError(409, "address", address->str() + " is already allocated");
    rec.address = *address;
  } else {
    bool found = false;
    for (uint32_t a = pool->first->value; a <= pool->last->value && !found; ++a) {
      if (!objects_.eip(Ipv4{a})) {
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
  return rec;
}

void Gateway::announce_eip(Ipv4 address) {
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
}

store::EipRecord Gateway::bind_eip(Ipv4 address, const std::string& vm) {
  const store::EipRecord* eip = objects_.eip(address);
  if (!eip) throw ServiceError(404, "address", address.str() + " is not allocated");
  if (!objects_.vm(vm)) throw ServiceError(404, "vm", "no vm '" + vm + "'");
  if (eip->vm == vm) return *eip;
  if (const auto* held = objects_.eip_of_vm(vm))
    throw ServiceError(409, "vm", "vm '" + vm + "' already has elastic IP " + held->address.str());
  std::optional<Ipv4> old_ip;
  if (const auto* old = objects_.vm(eip->vm)) old_ip = old->ip;
  store::EipRecord bound{address, eip->pool, vm};
  // One transaction: the DNAT/SNAT elements move from the old VM to the new one atomically.
  commit(
      {.put_eips = {bound}}, [&](store::StoreTxn& t) { t.set_eip_vm(address, vm); },
      "bind " + binding_path(address) + " to " + vm_path(vm), binding_path(address));
  if (old_ip) cut_flows(address, *old_ip);
  announce_eip(address);
  return *objects_.eip(address);
}

store::EipRecord Gateway::unbind_eip(Ipv4 address) {
  const store::EipRecord* eip = objects_.eip(address);
  if (!eip) throw ServiceError(404, "address", address.str() + " is not allocated");
  if (eip->vm.empty()) return *eip;
  std::optional<Ipv4> old_ip;
  if (const auto* old = objects_.vm(eip->vm)) old_ip = old->ip;
  commit(
      {.put_eips = {{address, eip->pool, ""}}},
      [&](store::StoreTxn& t) { t.set_eip_vm(address, ""); }, "unbind " + binding_path(address));
  if (old_ip) cut_flows(address, *old_ip);
  return *objects_.eip(address);
}

store::EipRecord Gateway::release_eip(Ipv4 address) {
  const store::EipRecord* eip = objects_.eip(address);
  if (!eip) throw ServiceError(404, "address", address.str() + " is not allocated");
  if (!eip->vm.empty())
    throw ServiceError(409, "address",
                       address.str() + " is bound to vm '" + eip->vm + "'; unbind it first");
  for (const auto& f : objects_.forwards_overlapping(address, Proto::tcp, {1, 65535}))
    throw ServiceError(409, "address",
                       address.str() + " is used by port forward " + address.str() + ":" +
                           f.public_ports.str() + "/tcp");
  for (const auto& f : objects_.forwards_overlapping(address, Proto::udp, {1, 65535}))
    throw ServiceError(409, "address",
                       address.str() + " is used by port forward " + address.str() + ":" +
                           f.public_ports.str() + "/udp");
  store::EipRecord rec = *eip;
  commit(
      {.removed_eips = {address}}, [&](store::StoreTxn& t) { t.delete_eip(address); },
      "release " + binding_path(address));
  return rec;
}

store::ForwardRecord Gateway::add_forward(const store::ForwardRecord& f) {
  for (const auto& x : objects_.forwards_overlapping(f.public_address, f.proto, f.public_ports)) {
    throw ServiceError(409, "public",
                       f.public_address.str() + ":" + f.public_ports.str() + "/" +
                           std::string(to_string(f.proto)) + " is already forwarded to vm '" +
                           x.vm + "'");
  }
  commit(
      {.put_forwards = {f}}, [&](store::StoreTxn& t) { t.add_forward(f); },
      "add " + forward_path(f), forward_path(f));
  return f;
}

store::ForwardRecord Gateway::remove_forward(Ipv4 address, Proto proto, uint32_t first_port) {
  const store::ForwardRecord* found = objects_.forward(address, proto, first_port);
  if (!found) {
    throw ServiceError(404, "public",
                       "no port forward " + address.str() + ":" + std::to_string(first_port) + "/" +
                           std::string(to_string(proto)));
  }
  store::ForwardRecord rec = *found;
  commit(
      {.removed_forwards = {rec}},
      [&](store::StoreTxn& t) { t.delete_forward(address, proto, first_port); },
      "remove " + forward_path(rec));
  // Connections already forwarded keep their conntrack entry and finish (documented).
  return rec;
}

void Gateway::cut_flows(Ipv4 eip, Ipv4 vm_ip) {
  try {
    // Both directions in one walk of the conntrack table: inbound through the elastic IP's
    // DNAT, outbound through its SNAT.
    counters_.conntrack_deleted +=
        deps_.conntrack.delete_matching(std::vector<backend::ConntrackFilter>{
            {eip, vm_ip, std::nullopt, std::nullopt}, {std::nullopt, std::nullopt, vm_ip, eip}});
  } catch (const std::exception&) {
    // The binding is already gone from the kernel's NAT maps; stale flows time out.
  }
}

void Gateway::record_lease_event(const store::LeaseEventRecord& e) {
  deps_.store.append_lease_event(e);
  // Pruned every so often rather than on each event: one DELETE per 100 events keeps the log
  // within `keep` + 100 at a cost of nothing per event.
  const size_t every = std::min<size_t>(kLeaseEventsBetweenPrunes, topology_.lease_events.keep);
  if (++lease_events_since_prune_ >= every) prune_lease_events(std::time(nullptr));
}

size_t Gateway::prune_lease_events(std::time_t now) {
  lease_events_since_prune_ = 0;
  const auto& r = topology_.lease_events;
  const std::time_t oldest = now - static_cast<std::time_t>(r.max_age_days) * 86400;
  return deps_.store.prune_lease_events(r.keep, format_utc_time(oldest));
}

bool Gateway::serves_dhcp(const std::string& network) const {
  for (const auto& n : topology_.networks)
    if (n.name == network && n.dhcp) return true;
  return false;
}

}  // namespace vmgw::daemon
