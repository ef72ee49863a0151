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
  // In use for new flows: carrier and answered probes (GET /v1/uplinks' "up").
  bool up() const { return carrier && alive; }
  auto operator<=>(const UplinkCondition&) const = default;
};
using UplinkConditions = std::map<std::string, UplinkCondition>;  // by uplink name

// The condition of `uplink`: as told, or healthy when not told (see UplinkCondition).
inline UplinkCondition condition_of(const UplinkConditions& all, const std::string& uplink) {
  auto it = all.find(uplink);
  return it == all.end() ? UplinkCondition{} : it->second;
}

}  // namespace vmgw
