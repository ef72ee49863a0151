// FakeRtnl mimics the kernel's behaviour for what vmgw does, including the side effects a
// reconciler must live with:
// - an address with prefix < 32 on an up device brings its prefix route (table main, metric 0,
//   no gateway), as does setting a device up that already has such addresses;
// - deleting the last address of a device flushes every route through it;
// - routes need an up device, and a gateway needs a direct route on that device covering it;
// - a nexthop needs its device to have carrier (and its gateway a direct route); losing carrier
//   flushes the device's nexthops, which leaves groups without them, deletes groups left empty
//   and routes through anything deleted; a group's members must exist and be single nexthops;
// - identical rules are refused (EEXIST).
// Refusals carry the kernel's errno text, formatted like MnlRtnl's errors.
#include "backend/fake_rtnl.h"

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "backend/rtnl_messages.h"

namespace vmgw::backend {
namespace {

[[noreturn]] void refuse(const std::string& what, int error) {
  throw RtnlError(what + ": " + std::strerror(error));
}

RouteInfo prefix_route(const AddressInfo& a) {
  Cidr net{Ipv4{a.address.address.value}, a.address.prefix};
  net.network.value &= net.mask();
  return RouteInfo{net, Ipv4{}, a.device, 0, kMainTable};
}

bool has_prefix_route(const AddressInfo& a) {
  return a.address.prefix > 0 && a.address.prefix < 32;
}

}  // namespace

LinkInfo& FakeRtnl::find(const std::string& name) {
  for (auto& l : links_)
    if (l.name == name) return l;
  throw RtnlError("no such device '" + name + "'");
}

void FakeRtnl::add_link(const std::string& name, const std::string& kind, bool up) {
  for (const auto& l : links_)
    if (l.name == name) refuse("add link " + name, EEXIST);
  int index = 1;
  for (const auto& l : links_) index = std::max(index, l.index + 1);
  links_.push_back(LinkInfo{name, index, kind, 0, up, up});
}

void FakeRtnl::set_carrier(const std::string& name, bool carrier) {
  LinkInfo& link = find(name);
  link.carrier = carrier;
  if (carrier) return;
  std::vector<uint32_t> gone;
  for (const auto& n : nexthops_)
    if (n.group.empty() && n.device == name) gone.push_back(n.id);
  for (uint32_t id : gone) drop_nexthop(id);
}

void FakeRtnl::drop_nexthop(uint32_t id) {
  std::vector<uint32_t> deleted{id};
  std::erase_if(nexthops_, [&](const NexthopInfo& n) { return n.id == id; });
  for (auto it = nexthops_.begin(); it != nexthops_.end();) {
    std::erase_if(it->group, [&](const NexthopMember& m) { return m.id == id; });
    if (it->group.empty() && it->device.empty()) {
      deleted.push_back(it->id);
      it = nexthops_.erase(it);
    } else {
      ++it;
    }
  }
  std::erase_if(routes_, [&](const RouteInfo& r) {
    return r.nexthop != 0 && std::find(deleted.begin(), deleted.end(), r.nexthop) != deleted.end();
  });
}

std::vector<RouteInfo> FakeRtnl::routes(uint32_t table) {
  std::vector<RouteInfo> out;
  for (const auto& r : routes_)
    if (table == 0 || r.table == table) out.push_back(r);
  return out;
}

void FakeRtnl::create_bridge(const std::string& name) {
  const std::string what = "create bridge " + name;
  if (name.empty()) refuse(what, EINVAL);
  if (name.size() > 15) refuse(what, ERANGE);  // IFLA_IFNAME fails policy validation
  for (const auto& l : links_)
    if (l.name == name) refuse(what, EEXIST);
  add_link(name, "bridge", false);
  links_.back().alias = kVmgwBridgeAlias;
  writes.push_back("create_bridge " + name);
}

void FakeRtnl::delete_link(const std::string& name) {
  const int index = find(name).index;
  // As the kernel does: the link's ports are released, its addresses, routes and nexthops go.
  for (auto& l : links_)
    if (l.master == index) l.master = 0;
  std::erase_if(addresses_, [&](const AddressInfo& a) { return a.device == name; });
  std::erase_if(routes_, [&](const RouteInfo& r) { return r.device == name; });
  std::vector<uint32_t> gone;
  for (const auto& n : nexthops_)
    if (n.device == name) gone.push_back(n.id);
  for (auto id : gone) drop_nexthop(id);
  std::erase_if(links_, [&](const LinkInfo& l) { return l.name == name; });
  writes.push_back("delete_link " + name);
}

void FakeRtnl::set_up(const std::string& name) {
  LinkInfo& link = find(name);
  if (!link.up) {
    link.up = true;
    for (const auto& a : addresses_) {
      if (a.device != name || !has_prefix_route(a)) continue;
      auto r = prefix_route(a);
      if (std::find(routes_.begin(), routes_.end(), r) == routes_.end()) routes_.push_back(r);
    }
  }
  writes.push_back("set_up " + name);
}

void FakeRtnl::set_master(const std::string& port, const std::string& bridge) {
  const std::string what = "set master of " + port + " to " + bridge;
  LinkInfo& p = find(port);
  const LinkInfo& b = find(bridge);
  if (b.kind != "bridge") refuse(what, EOPNOTSUPP);
  if (p.kind == "bridge") refuse(what, ELOOP);  // bridges cannot be bridge ports
  p.master = b.index;
  writes.push_back("set_master " + port + " " + bridge);
}

void FakeRtnl::release_port(const std::string& port) {
  find(port).master = 0;
  writes.push_back("release_port " + port);
}

void FakeRtnl::add_address(const AddressInfo& a) {
  const std::string what = "add address " + a.address.str() + " on " + a.device;
  const LinkInfo& link = find(a.device);
  if (std::find(addresses_.begin(), addresses_.end(), a) != addresses_.end()) refuse(what, EEXIST);
  addresses_.push_back(a);
  addresses_.back().protocol = kVmgwProtocol;
  if (link.up && has_prefix_route(a)) {
    auto r = prefix_route(a);
    if (std::find(routes_.begin(), routes_.end(), r) == routes_.end()) routes_.push_back(r);
  }
  writes.push_back("add_address " + a.device + " " + a.address.str());
}

void FakeRtnl::delete_address(const AddressInfo& a) {
  const std::string what = "delete address " + a.address.str() + " on " + a.device;
  find(a.device);
  auto it = std::find(addresses_.begin(), addresses_.end(), a);
  if (it == addresses_.end()) refuse(what, EADDRNOTAVAIL);
  addresses_.erase(it);
  bool last = std::none_of(addresses_.begin(), addresses_.end(),
                           [&](const AddressInfo& o) { return o.device == a.device; });
  if (last) {
    std::erase_if(routes_, [&](const RouteInfo& r) { return r.device == a.device; });
  } else if (has_prefix_route(a)) {
    auto r = prefix_route(a);
    bool shared = std::any_of(addresses_.begin(), addresses_.end(), [&](const AddressInfo& o) {
      return has_prefix_route(o) && prefix_route(o) == r;
    });
    if (!shared) std::erase(routes_, r);
  }
  writes.push_back("delete_address " + a.device + " " + a.address.str());
}

void FakeRtnl::replace_route(const RouteInfo& r) {
  const std::string what = "replace route " + rtnl_msg::describe(r);
  if (r.nexthop != 0) {
    if (std::none_of(nexthops_.begin(), nexthops_.end(),
                     [&](const NexthopInfo& n) { return n.id == r.nexthop; }))
      refuse(what, ENOENT);  // "Nexthop id does not exist"
  } else if (!r.unreachable) {
    const LinkInfo& link = find(r.device);
    if (!link.up) refuse(what, ENETDOWN);
    if (r.gateway.value != 0) {
      bool reachable = std::any_of(routes_.begin(), routes_.end(), [&](const RouteInfo& o) {
        return o.gateway.value == 0 && o.nexthop == 0 && !o.unreachable && o.device == r.device &&
               o.destination.contains(r.gateway) && (o.table == r.table || o.table == kMainTable);
      });
      if (!reachable) refuse(what, ENETUNREACH);
    }
  }
  std::erase_if(routes_, [&](const RouteInfo& o) {
    return o.table == r.table && o.destination == r.destination && o.metric == r.metric;
  });
  routes_.push_back(r);
  writes.push_back("replace_route " + rtnl_msg::describe(r));
}

void FakeRtnl::delete_route(const RouteInfo& r) {
  const std::string what = "delete route " + rtnl_msg::describe(r);
  if (!r.device.empty()) find(r.device);
  auto it = std::find(routes_.begin(), routes_.end(), r);
  if (it == routes_.end()) refuse(what, ESRCH);
  routes_.erase(it);
  writes.push_back("delete_route " + rtnl_msg::describe(r));
}

void FakeRtnl::add_rule(const RuleInfo& r) {
  if (std::find(rules_.begin(), rules_.end(), r) != rules_.end())
    refuse("add rule " + rtnl_msg::describe(r), EEXIST);
  // The kernel keeps rules sorted by priority; among equal priorities, in insertion order.
  auto at = std::upper_bound(
      rules_.begin(), rules_.end(), r,
      [](const RuleInfo& a, const RuleInfo& b) { return a.priority < b.priority; });
  rules_.insert(at, r);
  writes.push_back("add_rule " + rtnl_msg::describe(r));
}

void FakeRtnl::delete_rule(const RuleInfo& r) {
  auto it = std::find(rules_.begin(), rules_.end(), r);
  if (it == rules_.end()) refuse("delete rule " + rtnl_msg::describe(r), ENOENT);
  rules_.erase(it);
  writes.push_back("delete_rule " + rtnl_msg::describe(r));
}

void FakeRtnl::replace_nexthop(const NexthopInfo& n) {
  const std::string what = "replace nexthop " + rtnl_msg::describe(n);
  auto existing = std::find_if(nexthops_.begin(), nexthops_.end(),
                               [&](const NexthopInfo& o) { return o.id == n.id; });
  if (existing != nexthops_.end() && existing->group.empty() != n.group.empty())
    refuse(what, EINVAL);  // a nexthop and a group cannot replace each other
  if (n.group.empty()) {
    const LinkInfo& link = find(n.device);
    if (!link.up) refuse(what, ENETDOWN);
    if (!link.carrier) refuse(what, ENETDOWN);  // "Carrier for nexthop device is down"
    if (n.gateway.value != 0) {
      bool reachable = std::any_of(routes_.begin(), routes_.end(), [&](const RouteInfo& o) {
        return o.gateway.value == 0 && o.nexthop == 0 && !o.unreachable && o.device == n.device &&
               o.destination.contains(n.gateway) && o.table == kMainTable;
      });
      if (!reachable) refuse(what, ENETUNREACH);  // "Nexthop has invalid gateway"
    }
  } else {
    for (const auto& m : n.group) {
      auto member = std::find_if(nexthops_.begin(), nexthops_.end(),
                                 [&](const NexthopInfo& o) { return o.id == m.id; });
      if (member == nexthops_.end() || !member->group.empty() || m.weight < 1 || m.weight > 256)
        refuse(what, EINVAL);  // "Invalid nexthop id"
    }
  }
  if (existing != nexthops_.end())
    *existing = n;
  else
    nexthops_.push_back(n);
  writes.push_back("replace_nexthop " + rtnl_msg::describe(n));
}

void FakeRtnl::delete_nexthop(uint32_t id) {
  if (std::none_of(nexthops_.begin(), nexthops_.end(),
                   [&](const NexthopInfo& n) { return n.id == id; }))
    refuse("delete nexthop " + std::to_string(id), ENOENT);
  drop_nexthop(id);
  writes.push_back("delete_nexthop " + std::to_string(id));
}

}  // namespace vmgw::backend
