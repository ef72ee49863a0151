// The uplinks' health as the compiler takes it: an input like the configuration (vmgwd's probes
// and the links say it), all healthy when not given.
#pragma once

#include <compare>
#include <map>
#include <string>

namespace vmgw {

// The health of one uplink, as vmgwd's probes and the link state tell it. An uplink the
// compiler is not told about has carrier and is alive (`vmgw plan`, and `vmgw apply`, which
// probes nothing).
struct UplinkCondition {
  bool carrier = true;  // its link is up: without carrier the kernel holds no nexthop there
  bool alive = true;    // its probes are answered
  auto operator<=>(const UplinkCondition&) const = default;
};
using UplinkConditions = std::map<std::string, UplinkCondition>;  // by uplink name

}  // namespace vmgw
