#include "daemon/supervisor.h"

#include <algorithm>

namespace vmgw::daemon {

void DhcpSupervisor::tick(const std::vector<DhcpServer>& servers, Clock::time_point now) {
  std::map<std::string, Entry> next;
  for (const auto& s : servers) {
    Entry e = entries_.count(s.network) ? entries_[s.network] : Entry{0, now, now, "running"};
    if (dhcp_.running(s.network)) {
      // A server that stayed up for a minute has recovered: the next failure starts over.
      if (e.failures > 0 && now - e.up_since > std::chrono::seconds(60)) e.failures = 0;
      e.state = "running";
      try {
        if (dhcp_.trim_log(s.network, backend::kMaxDhcpLogBytes))
          log_("dnsmasq log of network " + s.network + " moved to its .1 file (over " +
               std::to_string(backend::kMaxDhcpLogBytes >> 20) + " MiB)");
      } catch (const std::exception& ex) {
        log_("dnsmasq log of network " + s.network + " could not be trimmed: " + ex.what());
      }
    } else if (now >= e.next_try) {
      ++restarts_;
      try {
        dhcp_.ensure(s);
        log_("dnsmasq for network " + s.network + " was not running; started it again");
        e.up_since = now;
        e.state = "running";
      } catch (const std::exception& ex) {
        log_("dnsmasq for network " + s.network + " failed to start: " + ex.what());
        e.state = "restarting";
      }
      ++e.failures;
      e.next_try = now + std::chrono::seconds(std::min(30, 1 << std::min(e.failures - 1, 5)));
    }
    next[s.network] = e;
  }
  entries_ = std::move(next);
}

std::map<std::string, std::string> DhcpSupervisor::state() const {
  std::map<std::string, std::string> out;
  for (const auto& [net, e] : entries_) out[net] = e.state;
  return out;
}

}  // namespace vmgw::daemon
