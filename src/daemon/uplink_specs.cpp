#include "daemon/uplink_specs.h"

namespace vmgw::daemon {

std::vector<UplinkProbeSpec> probe_specs(const Config& topology, const Plan& plan) {
  std::vector<UplinkProbeSpec> out;
  for (const auto& u : topology.uplinks) {
    UplinkProbeSpec s;
    s.name = u.name;
    s.device = u.device;
    s.source = u.address->address;
    for (const auto& p : plan.uplinks)
      if (p.name == u.name) s.fwmark = p.mark;
    s.interval = std::chrono::milliseconds(u.probe.interval_ms);
    s.down_after = u.probe.down_after;
    s.up_after = u.probe.up_after;
    for (const auto& t : probe_targets(u)) s.targets.push_back({t.address, t.tcp_port});
    out.push_back(std::move(s));
  }
  return out;
}

UplinkConditions conditions_of(const std::vector<UplinkStatus>& status) {
  UplinkConditions out;
  for (const auto& s : status) out[s.name] = {s.carrier, s.state == UplinkState::up};
  return out;
}

}  // namespace vmgw::daemon
