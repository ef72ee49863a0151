#include "daemon/uplink_follower.h"

#include <algorithm>
#include <chrono>

#include "daemon/log.h"
#include "daemon/uplink_specs.h"

namespace vmgw::daemon {
namespace {

ProbeClock::time_point now() {
  return ProbeClock::now();
}

void log_changes(const std::vector<UplinkMonitor::Change>& changes) {
  for (const auto& c : changes)
    // Named for the journal (VMGW_OBJECT=uplink/NAME) and the status page's recent changes.
    log_info("uplink " + c.uplink + " " + to_string(c.state) + ": " + c.reason,
             {"uplink/" + c.uplink, to_string(c.state)});
}

}  // namespace

UplinkFollower::UplinkFollower(Gateway& gw) : gw_(gw) {
  try {
    prober_ = backend::make_socket_prober();
    links_ = backend::make_netlink_link_watch();
    monitor_ = std::make_unique<UplinkMonitor>(*prober_, *links_);
  } catch (const std::exception& e) {
    log_error(std::string("uplink probes unavailable (uplinks keep the state of their links at "
                          "start): ") +
              e.what());
    monitor_.reset();
  }
}

void UplinkFollower::configure() {
  if (!monitor_) return;
  try {
    log_changes(monitor_->configure(probe_specs(gw_.topology(), gw_.plan_base()), now()));
  } catch (const std::exception& e) {
    log_error(std::string("uplink probes not reconfigured: ") + e.what());
  }
}

std::vector<int> UplinkFollower::fds() const {
  return monitor_ ? monitor_->fds() : std::vector<int>{};
}

int UplinkFollower::timeout_ms(int max) const {
  if (!monitor_) return max;
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(monitor_->next_deadline() - now());
  return static_cast<int>(std::clamp<int64_t>(left.count() + 1, 0, max));
}

bool UplinkFollower::poll(const std::vector<int>& ready) {
  if (!monitor_) return false;
  log_changes(monitor_->poll(ready, now()));
  return follow();
}

std::vector<UplinkStatus> UplinkFollower::status() const {
  return monitor_ ? monitor_->status() : std::vector<UplinkStatus>{};
}

bool UplinkFollower::follow() {
  auto health = conditions_of(monitor_->status());
  if (!retry_ && health == gw_.uplink_health()) return false;
  try {
    auto change = gw_.set_uplink_health(health);
    retry_ = false;
    for (const auto& e : change.events) log_info(e);
    if (change.report.changed()) log_info("routing: " + change.report.summary());
  } catch (const std::exception& e) {
    if (!retry_) log_error(std::string("routing did not follow the uplinks yet: ") + e.what());
    retry_ = true;
  }
  return true;
}

}  // namespace vmgw::daemon
