#include "apply/net_diff.h"

#include <algorithm>

namespace vmgw {
namespace {

const backend::LinkInfo* find_link(const NetState& s, const std::string& name) {
  for (const auto& l : s.links)
    if (l.name == name) return &l;
  return nullptr;
}

const backend::LinkInfo* find_link(const NetState& s, int index) {
  for (const auto& l : s.links)
    if (l.index == index) return &l;
  return nullptr;
}

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
    case Kind::replace_route:
      return "route " +
             (route.destination.prefix == 0 ? std::string("default") : route.destination.str()) +
             " via " + route.gateway.str() + " dev " + route.device + " metric " +
             std::to_string(route.metric);
  }
  return "";
}

std::vector<NetOp> net_diff(const Plan& plan, const NetState& state) {
  std::vector<NetOp> ops;
  using K = NetOp::Kind;
  for (const auto& b : plan.bridges) {
    const auto* link = find_link(state, b.name);
    if (!link) ops.push_back({K::create_bridge, b.name, "", {}, {}});
    if (!link || !link->up) ops.push_back({K::set_up, b.name, "", {}, {}});
  }
  for (const auto& port : plan.ports) {
    const auto* link = find_link(state, port.device);
    if (!link) continue;  // the VM is not running: its port appears when it starts
    const auto* master = find_link(state, link->master);
    if (!master || master->name != port.bridge)
      ops.push_back({K::set_master, port.device, port.bridge, {}, {}});
    if (!link->up) ops.push_back({K::set_up, port.device, "", {}, {}});
  }
  for (const auto& a : plan.addresses) {
    backend::AddressInfo want{a.device, a.address};
    if (std::find(state.addresses.begin(), state.addresses.end(), want) == state.addresses.end())
      ops.push_back({K::add_address, a.device, "", a.address, {}});
  }
  for (const auto& r : plan.routes) {
    backend::RouteInfo want{r.destination, r.gateway, r.device, r.metric, 254};
    if (std::find(state.main_routes.begin(), state.main_routes.end(), want) ==
        state.main_routes.end())
      ops.push_back({K::replace_route, r.device, "", {}, want});
  }
  for (const auto& a : state.addresses) {
    if (managed(plan, a) && !planned(plan, a))
      ops.push_back({K::delete_address, a.device, "", a.address, {}});
  }
  return ops;
}

void run_net_ops(const std::vector<NetOp>& ops, backend::Rtnl& rtnl) {
  for (const auto& op : ops) {
    switch (op.kind) {
      case NetOp::Kind::create_bridge:
        rtnl.create_bridge(op.device);
        break;
      case NetOp::Kind::set_master:
        rtnl.set_master(op.device, op.bridge);
        break;
      case NetOp::Kind::set_up:
        rtnl.set_up(op.device);
        break;
      case NetOp::Kind::add_address:
        rtnl.add_address({op.device, op.address});
        break;
      case NetOp::Kind::delete_address:
        rtnl.delete_address({op.device, op.address});
        break;
      case NetOp::Kind::replace_route:
        rtnl.replace_route(op.route);
        break;
    }
  }
}

}  // namespace vmgw
