// Policy routing for several uplinks: a table per uplink (its default route), a table per
// network (a default route through a nexthop group of the uplinks it uses now), the host's
// default route in main through a group of its own, and the rules that choose among them:
//   10000        lookup main suppress_prefixlength 0   specific routes (VM networks, LANs,
//                                                     connected subnets) before any default
//   10100+slot   fwmark <uplink mark> lookup <uplink>  flows pinned to an uplink (conntrack mark,
//                                                     restored into the packet mark by nft)
//   10400+slot   from <uplink address> lookup <uplink> the host's traffic from that address
//   10700+slot   from <subnet> lookup <network>        new flows of a network
// Which uplinks a group holds follows their health (UplinkConditions); everything else here is
// fixed by the configuration.
#include <algorithm>

#include "compile/compile.h"
#include "compile/parts.h"
#include "compile/routing_ids.h"
#include "nft/table.h"

namespace vmgw {
namespace routing {

std::map<std::string, uint32_t> assign_slots(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  std::map<std::string, uint32_t> out;
  std::vector<bool> taken(256, false);
  for (const auto& name : names) {
    auto slot = static_cast<uint32_t>(nft::fnv1a(name) % 255) + 1;
    for (int tries = 0; taken[slot] && tries < 255; ++tries) slot = slot % 255 + 1;
    taken[slot] = true;
    out[name] = slot;
  }
  return out;
}

}  // namespace routing

namespace compile_detail {
namespace {

using routing::kMainTable;
using routing::kNetworkBase;
using routing::kUplinkBase;

UplinkCondition condition_of(const Index& ix, const std::string& uplink) {
  auto it = ix.health.find(uplink);
  return it == ix.health.end() ? UplinkCondition{} : it->second;
}

// The uplinks that carry new flows: among the candidates with carrier, those alive (or, when
// none is, all with carrier: the last ones are never taken out for slow probes), in the best
// tier; all of them for balance, the first for failover.
std::vector<const Uplink*> choose(const Index& ix, const std::vector<const Uplink*>& candidates,
                                  UplinkMode mode) {
  std::vector<const Uplink*> carrier, alive;
  for (const Uplink* u : candidates) {
    auto c = condition_of(ix, u->name);
    if (!c.carrier) continue;
    carrier.push_back(u);
    if (c.alive) alive.push_back(u);
  }
  const auto& pick = alive.empty() ? carrier : alive;
  if (pick.empty()) return {};
  uint32_t best = pick.front()->tier;
  for (const Uplink* u : pick) best = std::min(best, u->tier);
  std::vector<const Uplink*> out;
  for (const Uplink* u : pick)
    if (u->tier == best) out.push_back(u);
  if (mode == UplinkMode::failover) out.resize(1);
  return out;
}

std::vector<const Uplink*> candidates_of(const Index& ix, const Network& n) {
  const auto& names = !n.uplinks.empty() ? n.uplinks : n.masquerade;
  std::vector<const Uplink*> out;
  if (names.empty()) {
    for (const auto& u : ix.config.uplinks) out.push_back(&u);
  } else {
    for (const auto& name : names) out.push_back(ix.uplinks.at(name));
  }
  return out;
}

const Cidr kDefault{Ipv4{0}, 0};

// One path: its nexthop group (when an uplink can take it), its routes and its PlannedPath.
void add_path(const Index& ix, Plan& p, PlannedPath path,
              const std::vector<const Uplink*>& candidates,
              const std::map<std::string, uint32_t>& uplink_slots) {
  for (const Uplink* u : candidates) path.candidates.push_back(u->name);
  std::vector<std::pair<uint32_t, uint32_t>> members;
  for (const Uplink* u : choose(ix, candidates, path.mode)) {
    path.active.push_back(u->name);
    members.emplace_back(kUplinkBase + uplink_slots.at(u->name), u->weight);
  }
  std::sort(members.begin(), members.end());
  bool host = path.network.empty();
  if (!members.empty()) {
    std::string purpose =
        host ? "the host's own traffic"
             : "network " + path.network + ": " + std::string(to_string(path.mode));
    p.nexthops.push_back({path.group, "", std::nullopt, members, purpose});
    p.routes.push_back(
        {kDefault, path.table, host ? routing::kMainDefaultMetric : 0, path.group, false});
  } else {
    path.group = 0;
  }
  // A network's traffic never falls through to another table (and leaves through an uplink it
  // may not use): its table ends in an unreachable default.
  if (!host) p.routes.push_back({kDefault, path.table, routing::kLastResortMetric, 0, true});
  p.paths.push_back(std::move(path));
}

}  // namespace

void compile_routing(const Index& ix, Plan& p) {
  const auto& uplinks = ix.config.uplinks;
  if (uplinks.empty()) return;
  std::vector<std::string> names;
  for (const auto& u : uplinks) names.push_back(u.name);
  auto uplink_slots = routing::assign_slots(names);
  names.clear();
  for (const auto& [name, net] : ix.networks) names.push_back(name);
  auto network_slots = routing::assign_slots(names);

  // Flows spread, never packets: by their ports too (policy 1), or by the fields balance_by
  // names alone (policy 3, custom; fields: 1 source address, 2 destination address).
  if (ix.config.balance_by == BalanceBy::connection) {
    p.sysctls.push_back({"net/ipv4/fib_multipath_hash_policy", "1"});
  } else {
    bool dst = ix.config.balance_by == BalanceBy::destination;
    p.sysctls.push_back({"net/ipv4/fib_multipath_hash_fields", dst ? "2" : "1"});
    p.sysctls.push_back({"net/ipv4/fib_multipath_hash_policy", "3"});
  }
  p.rules.push_back({routing::kRuleMainFirst, std::nullopt, 0, 0, kMainTable, true,
                     "specific routes first (VM networks, LANs, connected subnets)"});
  for (const auto& [name, u] : ix.uplinks) {
    uint32_t slot = uplink_slots.at(name);
    uint32_t id = kUplinkBase + slot;
    auto c = condition_of(ix, name);
    p.uplinks.push_back({name, u->device, *u->address, u->gateway, routing::mark_of(slot), id, id,
                         u->weight, u->tier, c.carrier, c.alive});
    // The kernel refuses (and flushes) nexthops on a device without carrier.
    if (c.carrier) {
      p.nexthops.push_back({id, u->device, u->gateway, {}, "uplink " + name});
      p.routes.push_back({kDefault, id, 0, id, false});
    }
    p.routes.push_back({kDefault, id, routing::kLastResortMetric, 0, true});
    p.rules.push_back({routing::kRuleFwmark + slot, std::nullopt, routing::mark_of(slot),
                       routing::kMarkMask, id, false, "flows pinned to uplink " + name});
    p.rules.push_back({routing::kRuleFromUplink + slot, Cidr{u->address->address, 32}, 0, 0, id,
                       false, "the host's traffic from uplink " + name + "'s address"});
    // Marks are trusted by reverse-path checks only with src_valid_mark.
    p.sysctls.push_back({"net/ipv4/conf/" + u->device + "/src_valid_mark", "1"});
  }

  std::vector<const Uplink*> all;
  for (const auto& u : uplinks) all.push_back(&u);
  add_path(ix, p,
           {"",
            std::nullopt,
            UplinkMode::balance,
            Failback::defer,
            {},
            {},
            kMainTable,
            routing::kHostGroup},
           all, uplink_slots);
  for (const auto& [name, n] : ix.networks) {
    uint32_t id = kNetworkBase + network_slots.at(name);
    p.rules.push_back({routing::kRuleFromNetwork + network_slots.at(name), *n->subnet, 0, 0, id,
                       false, "new flows of network " + name});
    add_path(ix, p, {name, *n->subnet, n->mode, n->failback, {}, {}, id, id}, candidates_of(ix, *n),
             uplink_slots);
  }
  // Single nexthops before the groups that use them; each kind by id.
  std::stable_sort(
      p.nexthops.begin(), p.nexthops.end(), [](const PlannedNexthop& a, const PlannedNexthop& b) {
        return std::make_pair(!a.members.empty(), a.id) < std::make_pair(!b.members.empty(), b.id);
      });
  std::sort(p.rules.begin(), p.rules.end(),
            [](const PlannedRule& a, const PlannedRule& b) { return a.priority < b.priority; });
  std::sort(p.routes.begin(), p.routes.end(), [](const PlannedRoute& a, const PlannedRoute& b) {
    return std::tie(a.table, a.metric) < std::tie(b.table, b.metric);
  });
}

}  // namespace compile_detail
}  // namespace vmgw
