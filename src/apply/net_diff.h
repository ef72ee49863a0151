// diff(planned links/addresses/routes, what rtnetlink reports) -> the operations to run. Pure.
#pragma once

#include <string>
#include <vector>

#include "backend/rtnl.h"
#include "compile/plan.h"

namespace vmgw {

struct NetOp {
  enum class Kind { create_bridge, set_master, set_up, add_address, replace_route, delete_address };
  Kind kind;
  std::string device;
  std::string bridge;          // set_master
  InterfaceAddress address{};  // add/delete_address
  backend::RouteInfo route{};  // replace_route

  std::string str() const;  // "add address 203.0.113.17/32 on wan0"
};

struct NetState {
  std::vector<backend::LinkInfo> links;
  std::vector<backend::AddressInfo> addresses;
  std::vector<backend::RouteInfo> main_routes;
};

// Ops in execution order: links first, then addresses, routes, and removals last (an elastic
// IP's address leaves the uplink only after its NAT is gone).
std::vector<NetOp> net_diff(const Plan& plan, const NetState& state);

// Runs the ops against `rtnl`, stopping at the first failure (RtnlError propagates).
void run_net_ops(const std::vector<NetOp>& ops, backend::Rtnl& rtnl);

}  // namespace vmgw
