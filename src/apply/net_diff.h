// diff(planned links/addresses/routing, what rtnetlink reports) -> the operations to run. Pure.
#pragma once

#include <string>
#include <vector>

#include "backend/rtnl.h"
#include "compile/plan.h"

namespace vmgw {

struct NetOp {
  enum class Kind {
    create_bridge,
    set_master,
    set_up,
    add_address,
    replace_nexthop,
    replace_route,
    add_rule,
    delete_rule,
    delete_route,
    delete_nexthop,
    delete_address,
    delete_bridge,
  };
  Kind kind;
  std::string device;
  std::string bridge;              // set_master
  InterfaceAddress address{};      // add/delete_address
  backend::RouteInfo route{};      // replace/delete_route
  backend::RuleInfo rule{};        // add/delete_rule
  backend::NexthopInfo nexthop{};  // replace/delete_nexthop

  std::string str() const;  // "add address 203.0.113.17/32 on wan0"
};

struct NetState {
  std::vector<backend::LinkInfo> links;
  std::vector<backend::AddressInfo> addresses;
  std::vector<backend::RouteInfo> routes;  // every table
  std::vector<backend::RuleInfo> rules;
  std::vector<backend::NexthopInfo> nexthops;
};

// Everything net_diff compares, read from the kernel.
NetState read_net_state(backend::Rtnl& rtnl);

// The kernel's form of what the plan holds (vmgw's protocol set).
backend::RouteInfo kernel_route(const PlannedRoute& r);
backend::RuleInfo kernel_rule(const PlannedRule& r);
backend::NexthopInfo kernel_nexthop(const PlannedNexthop& n);

// Ops in execution order: links, addresses, nexthops (single ones before the groups using
// them), routes, rules; then removals of what vmgw owns but no longer plans: rules, routes,
// groups, single nexthops (vmgw's protocol), addresses (vmgw's IFA_PROTO, or in a pool's range;
// last but one: an elastic IP's address leaves the uplink only after its NAT is gone), and the
// bridges vmgw created (its alias) last. What another program made is never removed.
std::vector<NetOp> net_diff(const Plan& plan, const NetState& state);

// Only the additions of net_diff's links, ports and addresses: what a change naming a few of
// them needs (nothing it does not name is removed).
std::vector<NetOp> link_and_address_additions(const Plan& plan, const NetState& state);

// Only the policy routing's part of net_diff (nexthops, routes, rules, and their removals).
std::vector<NetOp> routing_diff(const Plan& plan, const NetState& state);

// Runs the ops against `rtnl`, stopping at the first failure (RtnlError propagates).
void run_net_ops(const std::vector<NetOp>& ops, backend::Rtnl& rtnl);

}  // namespace vmgw
