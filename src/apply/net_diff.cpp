#include "apply/net_diff.h"

#include <algorithm>
#include <set>
#include <unordered_map>

#include "backend/rtnl_messages.h"

namespace vmgw {
namespace {

bool planned(const Plan& p, const backend::AddressInfo& a) {
  return std::any_of(p.addresses.begin(), p.addresses.end(), [&](const PlannedAddress& x) {
    return x.device == a.device && x.address == a.address;
  });
}

bool managed(const Plan& p, const backend::AddressInfo& a) {
  return std::any_of(p.managed_ranges.begin(), p.managed_ranges.end(), [&](const ManagedRange& m) {
    return m.device == a.device && m.first <= a.address.address && a.address.address <= m.last;
  });
}

}  // namespace

NetState read_net_state(backend::Rtnl& rtnl) {
  return {rtnl.links(), rtnl.addresses(), rtnl.routes(0), rtnl.rules(), rtnl.nexthops()};
}

backend::RouteInfo kernel_route(const PlannedRoute& r) {
  backend::RouteInfo k;
  k.destination = r.destination;
  k.metric = r.metric;
  k.table = r.table;
  k.nexthop = r.nexthop;
  k.unreachable = r.unreachable;
  k.protocol = backend::kVmgwProtocol;
  return k;
}

backend::RuleInfo kernel_rule(const PlannedRule& r) {
  backend::RuleInfo k;
  k.priority = r.priority;
  k.from = r.from;
  k.fwmark = r.fwmark;
  k.fwmask = r.fwmask;
  k.table = r.table;
  if (r.skip_default_routes) k.suppress_prefixlength = 0;
  k.protocol = backend::kVmgwProtocol;
  return k;
}

backend::NexthopInfo kernel_nexthop(const PlannedNexthop& n) {
  backend::NexthopInfo k;
  k.id = n.id;
  k.device = n.device;
  k.gateway = n.gateway.value_or(Ipv4{});
  for (const auto& [id, weight] : n.members) k.group.push_back({id, weight});
  k.protocol = backend::kVmgwProtocol;
  return k;
}

std::string NetOp::str() const {
  switch (kind) {
    case Kind::create_bridge:
      return "create bridge " + device;
    case Kind::set_master:
      return "plug " + device + " into " + bridge;
    case Kind::set_up:
      return "set " + device + " up";
    case Kind::add_address:
      return "add address " + address.str() + " on " + device;
    case Kind::delete_address:
      return "remove address " + address.str() + " from " + device;
    case Kind::delete_bridge:
      return "remove bridge " + device;
    case Kind::replace_nexthop:
      return "nexthop " + backend::rtnl_msg::describe(nexthop);
    case Kind::delete_nexthop:
      return "remove nexthop " + std::to_string(nexthop.id);
    case Kind::replace_route:
      return "route " + backend::rtnl_msg::describe(route);
    case Kind::delete_route:
      return "remove route " + backend::rtnl_msg::describe(route);
    case Kind::add_rule:
      return "rule " + backend::rtnl_msg::describe(rule);
    case Kind::delete_rule:
      return "remove rule " + backend::rtnl_msg::describe(rule);
  }
  return "";
}

namespace {

template <typename T>
bool contains(const std::vector<T>& v, const T& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

void diff_links_and_addresses(const Plan& plan, const NetState& state, std::vector<NetOp>& ops) {
  using K = NetOp::Kind;
  // Indexed: self-healing diffs the whole host at run time, with a port per VM.
  std::unordered_map<std::string, const backend::LinkInfo*> by_name;
  std::unordered_map<int, const backend::LinkInfo*> by_index;
  for (const auto& l : state.links) {
    by_name[l.name] = &l;
    by_index[l.index] = &l;
  }
  auto named = [&](const std::string& name) {
    auto it = by_name.find(name);
    return it == by_name.end() ? nullptr : it->second;
  };
  for (const auto& b : plan.bridges) {
    const auto* link = named(b.name);
    if (!link) ops.push_back({K::create_bridge, b.name});
    if (!link || !link->up) ops.push_back({K::set_up, b.name});
  }
  for (const auto& port : plan.ports) {
    const auto* link = named(port.device);
    if (!link) continue;  // the VM is not running: its port appears when it starts
    auto master = by_index.find(link->master);
    if (master == by_index.end() || master->second->name != port.bridge)
      ops.push_back({K::set_master, port.device, port.bridge});
    if (!link->up) ops.push_back({K::set_up, port.device});
  }
  const std::set<backend::AddressInfo> have(state.addresses.begin(), state.addresses.end());
  for (const auto& a : plan.addresses) {
    if (!have.count({a.device, a.address}))
      ops.push_back({K::add_address, a.device, "", a.address});
  }
}

void diff_routing(const Plan& plan, const NetState& state, std::vector<NetOp>& ops) {
  using K = NetOp::Kind;
  std::vector<backend::NexthopInfo> nexthops;
  for (const auto& n : plan.nexthops) nexthops.push_back(kernel_nexthop(n));
  std::vector<backend::RouteInfo> routes;
  for (const auto& r : plan.routes) routes.push_back(kernel_route(r));
  std::vector<backend::RuleInfo> rules;
  for (const auto& r : plan.rules) rules.push_back(kernel_rule(r));

  for (const auto& n : nexthops) {  // plan order: single ones before groups
    if (!contains(state.nexthops, n)) {
      NetOp op{K::replace_nexthop, n.device};
      op.nexthop = n;
      ops.push_back(op);
    }
  }
  for (const auto& r : routes) {
    if (!contains(state.routes, r)) {
      NetOp op{K::replace_route, r.device};
      op.route = r;
      ops.push_back(op);
    }
  }
  for (const auto& r : rules) {
    if (!contains(state.rules, r)) {
      NetOp op{K::add_rule};
      op.rule = r;
      ops.push_back(op);
    }
  }
  // Removals: only what carries vmgw's protocol, so other programs' routing is never touched.
  for (const auto& r : state.rules) {
    if (r.protocol == backend::kVmgwProtocol && !contains(rules, r)) {
      NetOp op{K::delete_rule};
      op.rule = r;
      ops.push_back(op);
    }
  }
  for (const auto& r : state.routes) {
    // A planned route with the same key (table, destination, metric) replaces it instead.
    bool replaced = std::any_of(routes.begin(), routes.end(), [&](const backend::RouteInfo& p) {
      return p.table == r.table && p.destination == r.destination && p.metric == r.metric;
    });
    if (r.protocol == backend::kVmgwProtocol && !replaced) {
      NetOp op{K::delete_route, r.device};
      op.route = r;
      ops.push_back(op);
    }
  }
  for (bool groups : {true, false}) {
    for (const auto& n : state.nexthops) {
      if (n.protocol != backend::kVmgwProtocol || n.group.empty() != !groups) continue;
      bool planned = std::any_of(nexthops.begin(), nexthops.end(),
                                 [&](const backend::NexthopInfo& p) { return p.id == n.id; });
      if (!planned) {
        NetOp op{K::delete_nexthop};
        op.nexthop = n;
        ops.push_back(op);
      }
    }
  }
}

}  // namespace

std::vector<NetOp> net_diff(const Plan& plan, const NetState& state) {
  std::vector<NetOp> ops;
  diff_links_and_addresses(plan, state, ops);
  diff_routing(plan, state, ops);
  std::set<std::string> bridges_going;
  for (const auto& l : state.links) {
    bool planned_bridge = std::any_of(plan.bridges.begin(), plan.bridges.end(),
                                      [&](const PlannedBridge& b) { return b.name == l.name; });
    if (l.kind == "bridge" && l.alias == backend::kVmgwBridgeAlias && !planned_bridge)
      bridges_going.insert(l.name);
  }
  for (const auto& a : state.addresses) {
    if (bridges_going.count(a.device)) continue;  // they go with their bridge
    bool vmgws = a.protocol == backend::kVmgwProtocol || managed(plan, a);
    if (vmgws && !planned(plan, a))
      ops.push_back({NetOp::Kind::delete_address, a.device, "", a.address});
  }
  for (const auto& name : bridges_going) ops.push_back({NetOp::Kind::delete_bridge, name});
  return ops;
}

std::vector<NetOp> link_and_address_additions(const Plan& plan, const NetState& state) {
  std::vector<NetOp> ops;
  diff_links_and_addresses(plan, state, ops);
  return ops;
}

std::vector<NetOp> routing_diff(const Plan& plan, const NetState& state) {
  std::vector<NetOp> ops;
  diff_routing(plan, state, ops);
  return ops;
}

void run_net_ops(const std::vector<NetOp>& ops, backend::Rtnl& rtnl) {
  using K = NetOp::Kind;
  for (const auto& op : ops) {
    switch (op.kind) {
      case K::create_bridge:
        rtnl.create_bridge(op.device);
        break;
      case K::set_master:
        rtnl.set_master(op.device, op.bridge);
        break;
      case K::set_up:
        rtnl.set_up(op.device);
        break;
      case K::add_address:
        rtnl.add_address({op.device, op.address});
        break;
      case K::delete_address:
        rtnl.delete_address({op.device, op.address});
        break;
      case K::delete_bridge:
        rtnl.delete_link(op.device);
        break;
      case K::replace_nexthop:
        rtnl.replace_nexthop(op.nexthop);
        break;
      case K::delete_nexthop:
        rtnl.delete_nexthop(op.nexthop.id);
        break;
      case K::replace_route:
        rtnl.replace_route(op.route);
        break;
      case K::delete_route:
        rtnl.delete_route(op.route);
        break;
      case K::add_rule:
        rtnl.add_rule(op.rule);
        break;
      case K::delete_rule:
        rtnl.delete_rule(op.rule);
        break;
    }
  }
}

}  // namespace vmgw
