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

// The kernel's form of what the plan holds (vmgw's protocol set).
backend::RouteInfo kernel_route(const PlannedRoute& r);
backend::RuleInfo kernel_rule(const PlannedRule& r);
backend::NexthopInfo kernel_nexthop(const PlannedNexthop& n);

// Ops in execution order: links, addresses, nexthops (single ones before the groups using
// them), routes, rules; then removals of what vmgw owns (its protocol) but no longer plans:
// rules, routes, groups, single nexthops, and addresses last (an elastic IP's address leaves
// the uplink only after its NAT is gone).
std::vector<NetOp> net_diff(const Plan& plan, const NetState& state);

// Only the policy routing's part of net_diff (nexthops, routes, rules, and their removals).
std::vector<NetOp> routing_diff(const Plan& plan, const NetState& state);

// Runs the ops against `rtnl`, stopping at the first failure (RtnlError propagates).
void run_net_ops(const std::vector<NetOp>& ops, backend::Rtnl& rtnl);

}  // namespace vmgw
