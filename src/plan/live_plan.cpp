#include "plan/live_plan.h"

#include <algorithm>
#include <optional>
#include <set>
#include <stdexcept>
#include <tuple>
#include <unordered_map>

namespace vmgw {
namespace {

using nft::Json;

// The sets of `t` without their elements and, with `with_base`, the base's elements and chains:
// the frame both sides of a step are diffed in. Unchanged objects are in neither side, so
// diff_table leaves them alone.
nft::Table frame(const nft::Table& t, bool with_base) {
  nft::Table v;
  v.family = t.family;
  v.name = t.name;
  v.sets.reserve(t.sets.size());
  for (const auto& s : t.sets) {
    nft::Set d;
    d.name = s.name;
    d.type = s.type;
    d.map = s.map;
    d.flags = s.flags;
    d.comment = s.comment;
    d.size = s.size;
    d.filled_by_kernel = s.filled_by_kernel;
    d.counter = s.counter;
    if (with_base) d.elements = s.elements;
    v.sets.push_back(std::move(d));
  }
  if (with_base) v.chains = t.chains;
  return v;
}

bool same(const DhcpReservation& a, const DhcpReservation& b) {
  return a.ip == b.ip && a.mac == b.mac && a.name == b.name;
}

bool ip_less(const DhcpReservation& a, const DhcpReservation& b) {
  return a.ip < b.ip;
}

// Reservations stay sorted by address (compile_dhcp's order). A few change by binary search; many
// (a reset) are appended and sorted once.
void patch(DhcpServer& s, const std::vector<DhcpReservation>& removed,
           const std::vector<DhcpReservation>& added) {
  constexpr size_t kFew = 16;
  auto& r = s.reservations;
  if (removed.size() <= kFew) {
    for (const auto& x : removed) {
      auto it = std::lower_bound(r.begin(), r.end(), x, ip_less);
      if (it != r.end() && same(*it, x)) r.erase(it);
    }
  } else {
    std::set<uint32_t> gone;
    for (const auto& x : removed) gone.insert(x.ip.value);
    std::erase_if(r, [&](const DhcpReservation& x) { return gone.count(x.ip.value) != 0; });
  }
  if (added.size() <= kFew) {
    for (const auto& x : added) r.insert(std::upper_bound(r.begin(), r.end(), x, ip_less), x);
  } else {
    r.insert(r.end(), added.begin(), added.end());
    std::stable_sort(r.begin(), r.end(), ip_less);
  }
}

// Whether the reservations a change removes are exactly those it adds back (a VM whose filters
// change keeps its reservation): the server is then left alone.
bool same_reservations(std::vector<DhcpReservation> a, std::vector<DhcpReservation> b) {
  if (a.size() != b.size()) return false;
  std::sort(a.begin(), a.end(), ip_less);
  std::sort(b.begin(), b.end(), ip_less);
  for (size_t i = 0; i < a.size(); ++i)
    if (!same(a[i], b[i])) return false;
  return true;
}

Footprint footprint_of(const Contribution& c) {
  Footprint f;
  f.elements.reserve(c.elements.size());
  for (const auto& e : c.elements)
    f.elements.push_back({e.table, e.set, e.element.key.dump(), e.element.value.dump()});
  for (const auto& ch : c.chains) f.chains.push_back({ch.table, ch.chain->name});
  f.ports = c.ports;
  f.addresses = c.addresses;
  f.reservations = c.reservations;
  f.filtered = c.filtered;
  f.quarantined = c.quarantined;
  return f;
}

// Whether two footprints hold the same nftables objects (elements, chains), in the same order
// (compile order is deterministic).
bool same_nft(const Footprint& a, const Footprint& b) {
  auto same_elem = [](const Footprint::Elem& x, const Footprint::Elem& y) {
    return x.table == y.table && x.set == y.set && x.key == y.key && x.value == y.value;
  };
  auto same_chain = [](const Footprint::ChainName& x, const Footprint::ChainName& y) {
    return x.table == y.table && x.name == y.name;
  };
  return std::equal(a.elements.begin(), a.elements.end(), b.elements.begin(), b.elements.end(),
                    same_elem) &&
         std::equal(a.chains.begin(), a.chains.end(), b.chains.begin(), b.chains.end(), same_chain);
}

std::string address_key(const PlannedAddress& a) {
  return a.device + " " + a.address.str();
}

}  // namespace

void LivePlan::reset(Plan base, const std::vector<KeyedContribution>& all) {
  base_ = std::move(base);
  dhcp_ = base_.dhcp;
  objects_.clear();
  holders_.clear();
  parts_.clear();
  filtered_ = quarantined_ = 0;
  elements_ = 0;
  address_holders_.clear();
  object_ports_.clear();
  std::vector<ObjectChange> changes;
  changes.reserve(all.size());
  for (const auto& k : all) changes.push_back({k.key, k.contribution});
  commit(changes);
}

std::size_t LivePlan::elements_after(const std::vector<ObjectChange>& changes) const {
  std::size_t n = elements_;
  for (const auto& ch : changes) {
    if (auto it = objects_.find(ch.key); it != objects_.end()) n -= it->second.elements.size();
    if (ch.after) n += ch.after->elements.size();
  }
  return n;
}

const std::string* LivePlan::object_port(const std::string& device) const {
  auto it = object_ports_.find(device);
  return it == object_ports_.end() ? nullptr : &it->second.first;
}

bool LivePlan::object_address(const PlannedAddress& address) const {
  return address_holders_.count(address_key(address)) > 0;
}

Plan LivePlan::host() const {
  Plan h;
  h.uplink_devices = base_.uplink_devices;
  h.sysctls = base_.sysctls;
  h.bridges = base_.bridges;
  h.ports = base_.ports;
  h.addresses = base_.addresses;
  h.managed_ranges = base_.managed_ranges;
  h.routes = base_.routes;
  h.nexthops = base_.nexthops;
  h.rules = base_.rules;
  h.dhcp = dhcp_;
  // An address two objects hold (counted in step()) is planned once: net_diff would add it twice.
  std::set<std::string> seen;
  for (const auto& a : h.addresses) seen.insert(address_key(a));
  for (const auto& [key, f] : objects_) {
    h.ports.insert(h.ports.end(), f.ports.begin(), f.ports.end());
    for (const auto& a : f.addresses)
      if (seen.insert(address_key(a)).second) h.addresses.push_back(a);
  }
  return h;
}

CompileFlags LivePlan::flags() const {
  return {filtered_ > 0, quarantined_ > 0};
}

CompileFlags LivePlan::flags_after(const std::vector<ObjectChange>& changes) const {
  int filtered = filtered_, quarantined = quarantined_;
  for (const auto& ch : changes) {
    if (auto it = objects_.find(ch.key); it != objects_.end()) {
      filtered -= it->second.filtered;
      quarantined -= it->second.quarantined;
    }
    if (ch.after) {
      filtered += ch.after->filtered;
      quarantined += ch.after->quarantined;
    }
  }
  return {filtered > 0, quarantined > 0};
}

const Footprint* LivePlan::footprint(const std::string& key) const {
  auto it = objects_.find(key);
  return it == objects_.end() ? nullptr : &it->second;
}

int LivePlan::holders(NftTable table, const std::string& chain) const {
  auto it = holders_.find({table, chain});
  return it == holders_.end() ? 0 : it->second;
}

const nft::Set* LivePlan::declared_set(NftTable table, const std::string& name) const {
  const nft::Table& t = table == NftTable::inet ? base_.table : base_.bridge_table;
  if (const nft::Set* s = t.find_set(name)) return s;
  for (const auto& [key, parts] : parts_) {
    if (key.first != table) continue;
    for (const auto& s : parts->sets)
      if (s.name == name) return &s;
  }
  return nullptr;
}

PlanDelta LivePlan::step(const std::vector<ObjectChange>& changes, const Plan* next_base) const {
  const Plan& next = next_base ? *next_base : base_;
  // With the base unchanged its chains and elements are left out of both sides (nothing to
  // compare); with a new base (the flags flipped) they are diffed like the rest.
  const bool with_base = next_base != nullptr;
  nft::Table old_inet = frame(base_.table, with_base), new_inet = frame(next.table, with_base);
  nft::Table old_bridge = frame(base_.bridge_table, with_base);
  nft::Table new_bridge = frame(next.bridge_table, with_base);
  auto side = [&](bool before, NftTable t) -> nft::Table& {
    if (t == NftTable::inet) return before ? old_inet : new_inet;
    return before ? old_bridge : new_bridge;
  };

  PlanDelta d;
  std::set<std::string> seen;
  std::map<ChainKey, int> holders_delta;
  std::map<ChainKey, const PlacedChain*> content;
  std::map<std::string, std::pair<int, PlannedAddress>> addresses;
  std::map<std::string, std::pair<std::vector<DhcpReservation>, std::vector<DhcpReservation>>>
      reservations;  // network -> removed, added
  struct Pending {
    bool before;
    NftTable table;
    const std::string* set;
    nft::Element element;
  };
  std::vector<Pending> elements;  // placed once the sets of the chains that come and go are known
  // Each element by its identity (table, set, key and value as compact JSON), with where it
  // is held before and after the step: only those on one side reach the diff, and only those
  // of the footprints are parsed back (a redefinition hands over every VM of a filter, most of
  // whose elements stay as they are).
  struct Held {
    const Footprint::Elem* before = nullptr;
    const PlacedElement* after = nullptr;
  };
  std::vector<Held> held;
  std::unordered_map<std::string, size_t> held_at;
  auto hold = [&](NftTable table, const std::string& set, const std::string& key,
                  const std::string& value) -> Held& {
    std::string id;
    id.reserve(set.size() + key.size() + value.size() + 4);
    id += table == NftTable::inet ? 'i' : 'b';
    id += set;
    id += '\n';
    id += key;
    id += '\n';
    id += value;
    auto [it, fresh] = held_at.emplace(std::move(id), held.size());
    if (fresh) held.emplace_back();
    return held[it->second];
  };
  for (const auto& ch : changes) {
    if (!seen.insert(ch.key).second)
      throw std::logic_error("live plan: " + ch.key + " changes twice in one step");
    const Footprint* old = footprint(ch.key);
    if (old) {
      for (const auto& e : old->elements) hold(e.table, e.set, e.key, e.value).before = &e;
      for (const auto& c : old->chains) --holders_delta[{c.table, c.name}];
      for (const auto& a : old->addresses) {
        auto& [n, addr] = addresses[address_key(a)];
        --n;
        addr = a;
      }
      for (const auto& [net, r] : old->reservations) reservations[net].first.push_back(r);
    }
    if (!ch.after) continue;
    const Contribution& c = *ch.after;
    for (const auto& e : c.elements)
      hold(e.table, e.set, e.element.key.dump(), e.element.value.dump()).after = &e;
    for (const auto& x : c.chains) {
      ++holders_delta[{x.table, x.chain->name}];
      content[{x.table, x.chain->name}] = &x;
    }
    for (const auto& p : c.ports) {
      bool had = old && std::any_of(old->ports.begin(), old->ports.end(), [&](const auto& o) {
                   return o.device == p.device && o.bridge == p.bridge;
                 });
      if (!had) d.ports.push_back(p);
    }
    for (const auto& a : c.addresses) {
      auto& [n, addr] = addresses[address_key(a)];
      ++n;
      addr = a;
    }
    for (const auto& [net, r] : c.reservations) reservations[net].second.push_back(r);
  }

  for (const auto& h : held) {
    if (h.before && !h.after)
      elements.push_back({true,
                          h.before->table,
                          &h.before->set,
                          {Json::parse(h.before->key), Json::parse(h.before->value)}});
    if (h.after && !h.before)
      elements.push_back({false, h.after->table, &h.after->set, h.after->element});
  }

  // The sets the chains bring, before and after the step; the programs' dispatch rules, by
  // dispatch chain and program, before and after.
  using SetKey = std::pair<NftTable, std::string>;
  std::map<SetKey, const nft::Set*> sets_before;
  using Dispatch = std::map<SetKey, std::map<std::string, const nft::Rule*>>;
  Dispatch dispatch_before;
  auto bring = [](const ChainKey& key, const ChainParts& p, std::map<SetKey, const nft::Set*>& sets,
                  Dispatch& dispatch) {
    for (const auto& s : p.sets) sets[{key.first, s.name}] = &s;
    if (!p.dispatch_chain.empty())
      dispatch[{key.first, p.dispatch_chain}][key.second] = &p.dispatch;
  };
  for (const auto& [key, p] : parts_) bring(key, *p, sets_before, dispatch_before);
  auto sets_after = sets_before;
  auto dispatch_after = dispatch_before;
  std::set<SetKey> dispatch_dirty;

  // A chain is created with its first holder and deleted with its last, with the sets it
  // brings. Its name is its content's hash, so a chain that stays held needs nothing.
  for (const auto& [key, delta] : holders_delta) {
    auto it = holders_.find(key);
    const int before = it == holders_.end() ? 0 : it->second;
    const int after = before + delta;
    if (after < 0) throw std::logic_error("live plan: chain " + key.second + " held below zero");
    if (before > 0 && after == 0) {
      side(true, key.first).chains.push_back(nft::Chain{key.second, std::nullopt, {}});
      if (auto p = parts_.find(key); p != parts_.end()) {
        for (const auto& s : p->second->sets) {
          side(true, key.first).sets.push_back(s);  // declared before only: deleted
          sets_after.erase({key.first, s.name});
        }
        if (!p->second->dispatch_chain.empty()) {
          dispatch_after[{key.first, p->second->dispatch_chain}].erase(key.second);
          dispatch_dirty.insert({key.first, p->second->dispatch_chain});
        }
      }
    } else if (before == 0 && after > 0) {
      const PlacedChain& placed = *content.at(key);
      side(false, key.first).chains.push_back(*placed.chain);
      if (placed.parts) {
        for (const auto& s : placed.parts->sets) side(false, key.first).sets.push_back(s);
        bring(key, *placed.parts, sets_after, dispatch_after);
        if (!placed.parts->dispatch_chain.empty())
          dispatch_dirty.insert({key.first, placed.parts->dispatch_chain});
      }
    }
  }

  // A dispatch chain whose programs change is written again whole (programs are few).
  auto chain_in = [&](bool before, NftTable t, const std::string& name) -> nft::Chain& {
    auto& chains = side(before, t).chains;
    for (auto& c : chains)
      if (c.name == name) return c;
    chains.push_back(nft::Chain{name, std::nullopt, {}});
    return chains.back();
  };
  for (const auto& key : dispatch_dirty) {
    for (bool before : {true, false}) {
      auto& chain = chain_in(before, key.first, key.second);
      chain.rules.clear();
      for (const auto& [program, rule] : (before ? dispatch_before : dispatch_after)[key])
        chain.rules.push_back(*rule);
    }
  }

  // The elements, in the sets of the base or of the chains in force on their side.
  std::map<std::tuple<bool, NftTable, std::string>, nft::Set*> placed;
  for (auto& e : elements) {
    auto where = std::make_tuple(e.before, e.table, *e.set);
    auto it = placed.find(where);
    if (it == placed.end()) {
      nft::Table& t = side(e.before, e.table);
      nft::Set* s = nullptr;
      for (auto& x : t.sets)
        if (x.name == *e.set) s = &x;
      if (!s) {
        const auto& brought = e.before ? sets_before : sets_after;
        auto b = brought.find({e.table, *e.set});
        if (b == brought.end())
          throw std::logic_error("live plan: no set " + *e.set + " in table " + t.family);
        t.sets.push_back(*b->second);
        s = &t.sets.back();
        // A set in force on both sides is declared on both, or the diff would delete it.
        const auto& other = e.before ? sets_after : sets_before;
        nft::Table& o = side(!e.before, e.table);
        if (other.count({e.table, *e.set}) &&
            std::none_of(o.sets.begin(), o.sets.end(),
                         [&](const nft::Set& x) { return x.name == *e.set; }))
          o.sets.push_back(*b->second);
        placed.clear();  // the pushes may have moved the other sets of both tables
      }
      it = placed.emplace(where, s).first;
    }
    it->second->elements.push_back(std::move(e.element));
  }
  d.nft = diff_table(old_inet, new_inet);
  d.nft += diff_table(old_bridge, new_bridge);

  // An address goes when the last object holding it goes, comes with the first (an elastic IP
  // bound and forwarded is held twice).
  for (const auto& [key, entry] : addresses) {
    auto holders = address_holders_.find(key);
    const int before = holders == address_holders_.end() ? 0 : holders->second;
    if (before > 0 && before + entry.first <= 0) d.remove_addresses.push_back(entry.second);
    if (before <= 0 && before + entry.first > 0) d.add_addresses.push_back(entry.second);
  }
  for (const auto& [net_name, change] : reservations) {
    // Structured bindings cannot be captured by lambdas in clang's C++20.
    const std::string& net = net_name;
    auto it = std::find_if(dhcp_.begin(), dhcp_.end(),
                           [&](const DhcpServer& s) { return s.network == net; });
    if (it == dhcp_.end()) throw std::logic_error("live plan: no DHCP server for " + net);
    if (same_reservations(change.first, change.second)) continue;
    DhcpServer s = *it;
    patch(s, change.first, change.second);
    d.dhcp.push_back(std::move(s));
  }
  d.sysctls = next.sysctls;
  return d;
}

std::vector<std::string> LivePlan::commit(const std::vector<ObjectChange>& changes,
                                          const Plan* next_base) {
  ++version_;
  std::vector<std::string> changed;
  if (next_base) {
    auto dhcp = std::move(dhcp_);
    base_ = *next_base;
    dhcp_ = std::move(dhcp);  // the servers are the topology's: only their reservations change
  }
  std::map<std::string, std::pair<std::vector<DhcpReservation>, std::vector<DhcpReservation>>>
      reservations;
  for (const auto& ch : changes) {
    std::optional<Footprint> before;
    if (auto it = objects_.find(ch.key); it != objects_.end()) {
      const Footprint& old = it->second;
      for (const auto& c : old.chains) {
        auto h = holders_.find({c.table, c.name});
        if (h != holders_.end() && --h->second <= 0) {
          parts_.erase(h->first);
          holders_.erase(h);
        }
      }
      for (const auto& [net, r] : old.reservations) reservations[net].first.push_back(r);
      filtered_ -= old.filtered;
      quarantined_ -= old.quarantined;
      elements_ -= old.elements.size();
      for (const auto& a : old.addresses)
        if (auto h = address_holders_.find(address_key(a));
            h != address_holders_.end() && --h->second <= 0)
          address_holders_.erase(h);
      for (const auto& p : old.ports)
        if (auto h = object_ports_.find(p.device);
            h != object_ports_.end() && --h->second.second <= 0)
          object_ports_.erase(h);
      before = std::move(it->second);
      objects_.erase(it);
    }
    if (!ch.after) {
      if (before) changed.push_back(ch.key);
      continue;
    }
    Footprint f = footprint_of(*ch.after);
    if (!before || !same_nft(*before, f)) changed.push_back(ch.key);
    for (const auto& c : ch.after->chains) {
      if (++holders_[{c.table, c.chain->name}] == 1 && c.parts)
        parts_[{c.table, c.chain->name}] = c.parts;
    }
    for (const auto& [net, r] : f.reservations) reservations[net].second.push_back(r);
    filtered_ += f.filtered;
    quarantined_ += f.quarantined;
    elements_ += f.elements.size();
    for (const auto& a : f.addresses) ++address_holders_[address_key(a)];
    for (const auto& p : f.ports) {
      auto& [bridge, holders] = object_ports_[p.device];
      bridge = p.bridge;
      ++holders;
    }
    objects_.emplace(ch.key, std::move(f));
  }
  for (auto& s : dhcp_) {
    auto it = reservations.find(s.network);
    if (it != reservations.end()) patch(s, it->second.first, it->second.second);
  }
  return changed;
}

}  // namespace vmgw
