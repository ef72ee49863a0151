// The Gateway's side of several uplinks: the nexthop groups follow the uplinks' health, and the
// flows pinned to an uplink that was taken out (or, with `failback: immediate`, that a network
// left for a better one) are cut, so that they re-establish through an uplink that works.
// Health changes touch no store: they are not the operator's declaration, and the next start
// measures them again.
#include <algorithm>

#include "compile/routing_ids.h"
#include "daemon/gateway.h"

namespace vmgw::daemon {
namespace {

const PlannedPath* path_named(const std::vector<PlannedPath>& paths, const std::string& network) {
  for (const auto& path : paths)
    if (path.network == network) return &path;
  return nullptr;
}

bool in(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

}  // namespace

UplinkConditions Gateway::conditions_for(const Config& topology) const {
  auto out = link_conditions(topology, deps_.backends.rtnl.links());
  // The monitor's word counts for the uplinks it knows; new ones start from their link.
  for (auto& [name, c] : out) {
    if (auto it = health_.find(name); it != health_.end()) c = it->second;
  }
  return out;
}

size_t Gateway::cut_uplink_flows(uint32_t mark, std::optional<Cidr> from) {
  auto flows = deps_.conntrack.list(std::nullopt);
  std::erase_if(flows, [&](const backend::ConntrackFlow& f) {
    return (f.mark & routing::kMarkMask) != mark || (from && !from->contains(f.orig_src));
  });
  size_t n = flows.empty() ? 0 : deps_.conntrack.delete_flows(flows);
  counters_.conntrack_deleted += n;
  return n;
}

UplinkHealthChange Gateway::set_uplink_health(UplinkConditions health) {
  UplinkHealthChange out;
  // Health changes the base's routing only (the nft tables do not depend on it): the routing is
  // converged alone, and the new base becomes the plan in force's.
  const std::vector<PlannedPath> paths_before = live_.base().paths;
  health_ = std::move(health);
  bases_.clear();
  const Plan& next = base_for(live_.flags());
  out.report = apply_routing(next, deps_.backends.rtnl);
  live_.commit({}, &next);
  count(out.report);
  last_apply_ = "uplink health: " + out.report.summary();
  const Plan& now = live_.base();

  // Flows of an uplink taken out: it is dead and no path uses it any more (the last uplinks
  // with carrier stay in use even when their probes fail, and so do their flows).
  for (const auto& u : now.uplinks) {
    bool dead = !u.carrier || !u.alive;
    bool used = std::any_of(now.paths.begin(), now.paths.end(),
                            [&](const PlannedPath& p) { return in(p.active, u.name); });
    bool was_used = std::any_of(paths_before.begin(), paths_before.end(),
                                [&](const PlannedPath& p) { return in(p.active, u.name); });
    if (dead && !used && was_used) {
      size_t n = cut_uplink_flows(u.mark, std::nullopt);
      out.flows_cut += n;
      out.events.push_back("uplink " + u.name + " taken out: " + std::to_string(n) +
                           " flows through it cut");
    }
  }
  // `failback: immediate`: a network that moved to a better uplink takes its flows along.
  for (const auto& path : now.paths) {
    const PlannedPath* old = path_named(paths_before, path.network);
    if (path.network.empty() || old == nullptr || path.active.empty()) continue;
    if (old->active != path.active)
      out.events.push_back("network " + path.network + " now uses " +
                           (path.active.empty() ? std::string("no uplink") : [&] {
                             std::string s;
                             for (const auto& a : path.active) s += (s.empty() ? "" : ", ") + a;
                             return s;
                           }()));
    if (path.failback != Failback::immediate) continue;
    for (const auto& name : old->active) {
      if (in(path.active, name)) continue;
      auto u = std::find_if(now.uplinks.begin(), now.uplinks.end(),
                            [&](const PlannedUplink& x) { return x.name == name; });
      if (u == now.uplinks.end() || !u->carrier || !u->alive) continue;  // cut above
      size_t n = cut_uplink_flows(u->mark, path.subnet);
      out.flows_cut += n;
      out.events.push_back("network " + path.network + " failed back (immediate): " +
                           std::to_string(n) + " of its flows on " + name + " cut");
    }
  }
  return out;
}

std::map<std::string, size_t> Gateway::flows_per_uplink() {
  std::map<std::string, size_t> out;
  const auto& uplinks = live_.base().uplinks;
  for (const auto& u : uplinks) out[u.name] = 0;
  for (const auto& f : deps_.conntrack.list(std::nullopt)) {
    for (const auto& u : uplinks)
      if ((f.mark & routing::kMarkMask) == u.mark) ++out[u.name];
  }
  return out;
}

}  // namespace vmgw::daemon
