#include "daemon/host_heal.h"

#include <algorithm>

namespace vmgw::daemon {
namespace {

template <typename T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

bool in_range(const Owned& o, const backend::AddressInfo& a) {
  return std::any_of(o.ranges.begin(), o.ranges.end(), [&](const ManagedRange& m) {
    return m.device == a.device && m.first <= a.address.address && a.address.address <= m.last;
  });
}

// The bridge of the port `device` vmgw owns, or nullptr.
const std::string* bridge_of_port(const Owned& o, const std::string& device) {
  if (auto it = o.ports.find(device); it != o.ports.end()) return &it->second;
  return o.objects ? o.objects->object_port(device) : nullptr;
}

bool owns_address(const Owned& o, const backend::AddressInfo& a) {
  return o.addresses.count(a) > 0 ||
         (o.objects && o.objects->object_address({a.device, a.address}));
}

bool link_contradicts(const backend::NetEvent& e, const Owned& o) {
  const auto& l = e.link;
  if (o.bridges.count(l.name)) return e.removed || !l.up;
  const std::string* bridge = bridge_of_port(o, l.name);
  if (!bridge || e.removed) return false;  // a port going: its VM stopped
  return !l.up || e.master != *bridge;
}

bool address_contradicts(const backend::NetEvent& e, const Owned& o) {
  if (owns_address(o, e.address)) return e.removed;
  return !e.removed && in_range(o, e.address);  // another address in vmgw's range
}

bool route_contradicts(const backend::NetEvent& e, const Owned& o) {
  const auto& r = e.route;
  if (contains(o.routes, r)) return e.removed;
  if (e.removed) return false;
  // Another route in the place (table, destination, metric) of one of vmgw's replaced it.
  bool displaces = std::any_of(o.routes.begin(), o.routes.end(), [&](const backend::RouteInfo& p) {
    return p.table == r.table && p.destination == r.destination && p.metric == r.metric;
  });
  return displaces || r.protocol == backend::kVmgwProtocol;
}

bool rule_contradicts(const backend::NetEvent& e, const Owned& o) {
  if (contains(o.rules, e.rule)) return e.removed;
  return !e.removed && e.rule.protocol == backend::kVmgwProtocol;
}

bool nexthop_contradicts(const backend::NetEvent& e, const Owned& o) {
  const auto& n = e.nexthop;
  auto it = o.nexthops.find(n.id);
  if (it != o.nexthops.end()) return e.removed || it->second != n;
  return !e.removed && n.protocol == backend::kVmgwProtocol;
}

}  // namespace

Owned owned_of(const Plan& host) {
  Owned o;
  for (const auto& b : host.bridges) o.bridges.insert(b.name);
  for (const auto& p : host.ports) o.ports[p.device] = p.bridge;
  for (const auto& a : host.addresses) o.addresses.insert({a.device, a.address});
  o.ranges = host.managed_ranges;
  for (const auto& r : host.routes) o.routes.push_back(kernel_route(r));
  for (const auto& r : host.rules) o.rules.push_back(kernel_rule(r));
  for (const auto& n : host.nexthops) o.nexthops[n.id] = kernel_nexthop(n);
  return o;
}

Owned owned_of(const LivePlan& live) {
  Owned o = owned_of(live.base());
  o.objects = &live;
  return o;
}

Recheck recheck_for(const backend::NetEvent& e, const Owned& owned) {
  using K = backend::NetEvent::Kind;
  switch (e.kind) {
    case K::link:
      return {link_contradicts(e, owned), false};
    case K::address:
      return {address_contradicts(e, owned), false};
    case K::route:
      return {route_contradicts(e, owned), false};
    case K::rule:
      return {rule_contradicts(e, owned), false};
    case K::nexthop:
      return {nexthop_contradicts(e, owned), false};
    case K::netconf:
      return {false, true};
    case K::lost:
      break;
  }
  return {true, true};
}

bool concerns_hosts(const backend::FileEvent& e) {
  const std::string suffix = ".hosts";
  if (e.name.empty()) return true;  // the directory itself, or events lost
  return e.name.size() > suffix.size() &&
         e.name.compare(e.name.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::string heal_kind(NetOp::Kind k) {
  using K = NetOp::Kind;
  switch (k) {
    case K::create_bridge:
    case K::delete_bridge:
    case K::set_up:
      return "link";
    case K::set_master:
      return "bridge_port";
    case K::add_address:
    case K::delete_address:
      return "address";
    case K::replace_nexthop:
    case K::delete_nexthop:
      return "nexthop";
    case K::replace_route:
    case K::delete_route:
      return "route";
    case K::add_rule:
    case K::delete_rule:
      return "rule";
  }
  return "link";
}

void HealTimer::noticed(Clock::time_point now) {
  if (!first_) first_ = now;
  last_ = now;
}

std::optional<HealTimer::Clock::time_point> HealTimer::due() const {
  if (!first_) return std::nullopt;
  auto at = std::min(*last_ + quiet_, *first_ + longest_);
  if (auto fought = last_fought()) at = std::max(at, *fought + kFightPace);
  return at;
}

std::optional<HealTimer::Clock::time_point> HealTimer::last_fought() const {
  std::optional<Clock::time_point> out;
  for (const auto& [object, times] : restores_) {
    bool fight = times.size() == kFightHeals && times.back() - times.front() <= kFightWindow;
    if (fight && (!out || *out < times.back())) out = times.back();
  }
  return out;
}

bool HealTimer::fighting() const {
  return last_fought().has_value();
}

std::optional<std::string> HealTimer::healed(Clock::time_point now,
                                             const std::vector<std::string>& objects) {
  // Objects not restored for a whole window are in no fight any more.
  for (auto it = restores_.begin(); it != restores_.end();) {
    if (now - it->second.back() > kFightWindow) {
      said_.erase(it->first);
      it = restores_.erase(it);
    } else {
      ++it;
    }
  }
  std::optional<std::string> started;
  for (const auto& object : objects) {
    auto& times = restores_[object];
    times.push_back(now);
    if (times.size() > kFightHeals) times.pop_front();
    bool fight = times.size() == kFightHeals && times.back() - times.front() <= kFightWindow;
    if (fight && said_.insert(object).second && !started) started = object;
  }
  return started;
}

}  // namespace vmgw::daemon
