// Self-healing of the host part of the plan in force: links, bridge ports, addresses, routing,
// sysctls and DHCP hosts files. The diff is the one every apply makes (restore_net: net_diff
// against what the kernel lists), so self-healing holds no second model of the host; what it puts
// back is counted by kind for /metrics.
#include "daemon/gateway.h"
#include "daemon/host_heal.h"

namespace vmgw::daemon {

HostHeal Gateway::heal_host(HealParts parts) {
  HostHeal out;
  if (parts.net) {
    const Plan host = live_.host();  // O(objects): the base's sysctls and servers do without it
    auto count = [&] {
      for (const auto& op : out.net) ++counters_.self_heals[heal_kind(op.kind)];
    };
    try {
      restore_net(host, deps_.backends.rtnl, out.net);
    } catch (...) {
      count();  // what ran before the refusal was put back
      throw;
    }
    count();
  }
  if (parts.sysctls) {
    out.sysctls = restore_sysctls(live_.base(), deps_.backends.sysctl);
    counters_.self_heals["sysctl"] += out.sysctls.size();
  }
  if (parts.hosts) {
    for (const auto& d : live_.dhcp())
      if (deps_.backends.dhcp.restore_hosts(d)) out.hosts_files.push_back(d.network);
    counters_.self_heals["hosts_file"] += out.hosts_files.size();
  }
  if (!out.empty()) ++counters_.applies;
  return out;
}

}  // namespace vmgw::daemon
