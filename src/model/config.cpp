#include "model/config.h"

namespace vmgw {

bool HostService::has_port(uint16_t port) const {
  for (const auto& r : ports)
    if (r.first <= port && port <= r.last) return true;
  return false;
}

std::vector<ProbeTarget> probe_targets(const Uplink& u) {
  if (!u.probe.enabled) return {};
  if (u.probe.targets.empty() && u.gateway) return {{*u.gateway, 0}};
  return u.probe.targets;
}

std::string_view to_string(UplinkMode m) {
  return m == UplinkMode::balance ? "balance" : "failover";
}

std::string_view to_string(BalanceBy b) {
  return b == BalanceBy::connection    ? "connection"
         : b == BalanceBy::destination ? "destination"
                                       : "source";
}

std::string_view to_string(Failback f) {
  return f == Failback::defer ? "defer" : "immediate";
}

}  // namespace vmgw
