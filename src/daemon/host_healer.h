// Self-healing of the host part of the plan in force, in the daemon's poll loop: the kernel's
// notifications (NetWatch) and the hosts files' (FileWatch) are judged against what vmgw owns
// (host_heal.h), a contradiction waits for a quiet moment, and the Gateway puts back what is
// missing (Gateway::heal_host); each restore is logged with its kind and what was noticed, and
// counted by kind in the Gateway's counters (/metrics).
//
// The sysctls vmgw sets have no notification but forwarding's (netconf): they are also read twice
// a second (a handful of small /proc reads), so that they too are back within a second.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/file_watch.h"
#include "backend/net_watch.h"
#include "daemon/gateway.h"
#include "daemon/host_heal.h"

namespace vmgw::daemon {

class HostHealer {
 public:
  using Clock = std::chrono::steady_clock;
  using Log = std::function<void(const std::string&)>;
  // Either watch may be null (it could not be opened): that part then goes unwatched.
  HostHealer(Gateway& gw, std::unique_ptr<backend::NetWatch> net,
             std::unique_ptr<backend::FileWatch> files, Log info, Log error);

  // The descriptors to poll for POLLIN.
  std::vector<int> fds() const;
  // Milliseconds until a re-diff or the sysctl check is due, at most `max`.
  int timeout_ms(int max, Clock::time_point now) const;
  // After every wake-up: reads the watches that are `ready`, re-diffs what is due. True when
  // something was put back.
  bool poll(const std::vector<int>& ready, Clock::time_point now);

  // Quiet moment before a re-diff, and the longest wait after the first contradiction.
  static constexpr auto kQuiet = std::chrono::milliseconds(20);
  static constexpr auto kLongest = std::chrono::milliseconds(200);
  // How often the sysctls are read, and how long after a failed heal it is tried again.
  static constexpr auto kSysctlPeriod = std::chrono::milliseconds(500);
  static constexpr auto kRetry = std::chrono::seconds(5);

 private:
  void read_net(Clock::time_point now);
  void read_files(Clock::time_point now);
  bool heal(HealParts parts, Clock::time_point now);
  const Owned& owned();

  Gateway& gw_;
  std::unique_ptr<backend::NetWatch> net_;
  std::unique_ptr<backend::FileWatch> files_;
  Log info_, error_;
  HealTimer net_timer_{kQuiet, kLongest}, hosts_timer_{kQuiet, kLongest};
  bool sysctls_now_ = false;
  std::optional<Clock::time_point> next_sysctls_;
  std::optional<Clock::time_point> retry_;  // after a failed heal
  std::string last_error_;
  // What was noticed first since the last heal, and when, for the log: "address ... removed".
  std::string noticed_net_, noticed_hosts_, noticed_sysctls_;
  std::optional<Clock::time_point> noticed_net_at_, noticed_hosts_at_;
  std::optional<uint64_t> owned_version_;
  Owned owned_;
};

// The real watches: rtnetlink in this namespace, inotify on `hosts_dir` (the DHCP hosts files'
// directory). A watch that cannot be opened is logged and left out. Logs to the daemon's log.
std::unique_ptr<HostHealer> make_host_healer(Gateway& gw, const std::string& hosts_dir);

}  // namespace vmgw::daemon
