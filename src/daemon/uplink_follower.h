// The uplinks' probes and link states in the daemon's poll loop, and the routing that follows
// them: the UplinkMonitor's state changes go to the log and, as UplinkConditions, to
// Gateway::set_uplink_health. Without probe sockets (no CAP_NET_RAW) the uplinks keep the state
// their links had at start, and the log says so.
#pragma once

#include <memory>
#include <vector>

#include "backend/link_watch.h"
#include "backend/prober.h"
#include "daemon/gateway.h"
#include "daemon/uplink_monitor.h"

namespace vmgw::daemon {

class UplinkFollower {
 public:
  explicit UplinkFollower(Gateway& gw);

  // At start and after a reload: probe the uplinks of the topology in force.
  void configure();
  // The descriptors to poll for POLLIN.
  std::vector<int> fds() const;
  // Milliseconds until the probes need the loop back, at most `max`.
  int timeout_ms(int max) const;
  // After every wake-up: rounds due, answers, carrier; routing follows any change of health
  // (also carrier back on a down uplink, which restores its nexthop before its probes bring it
  // up: they need it to get through). A failure is retried at the next wake-up. True when the
  // gateway was asked to follow a change of health.
  bool poll(const std::vector<int>& ready);
  std::vector<UplinkStatus> status() const;

 private:
  bool follow();

  Gateway& gw_;
  std::unique_ptr<backend::Prober> prober_;
  std::unique_ptr<backend::LinkWatch> links_;
  std::unique_ptr<UplinkMonitor> monitor_;
  bool retry_ = false;
};

}  // namespace vmgw::daemon
