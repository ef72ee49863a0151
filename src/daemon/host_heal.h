// Self-healing of what vmgw owns outside nftables, the pure part: which kernel notifications
// contradict the plan in force (and so call for a re-diff), when to re-diff (after a quiet
// moment, so that a burst of notifications costs one diff), and what to call what was put back.
//
// vmgw's own writes need no bookkeeping: they make the kernel equal to the plan in force before
// their notifications are read (one thread), so their notifications contradict nothing. When a
// notification does, the re-diff against the kernel (apply/net_diff, the same diff as every
// apply) decides what to write; a stale notification costs a diff that finds nothing.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "apply/net_diff.h"
#include "backend/file_watch.h"
#include "backend/net_watch.h"
#include "compile/plan.h"
#include "plan/live_plan.h"

namespace vmgw::daemon {

// What vmgw owns on the host (the host part of the plan in force), indexed for lookups.
struct Owned {
  std::set<std::string> bridges;
  std::map<std::string, std::string> ports;  // device -> its bridge
  std::set<backend::AddressInfo> addresses;
  std::vector<ManagedRange> ranges;
  std::vector<backend::RouteInfo> routes;  // kernel form (net_diff's kernel_route)
  std::vector<backend::RuleInfo> rules;
  std::map<uint32_t, backend::NexthopInfo> nexthops;
  // The objects' ports and addresses (VMs, elastic IPs) when set: looked up in the plan in force
  // instead of copied above, so that a change costs self-healing O(the base), not O(VMs).
  const LivePlan* objects = nullptr;
};
// From a whole host plan (LivePlan::host()), or from the plan in force's base and its objects.
Owned owned_of(const Plan& host);
Owned owned_of(const LivePlan& live);

// What a notification calls for reading again.
struct Recheck {
  bool net = false;      // links, addresses and routing: a re-diff (apply/net_diff)
  bool sysctls = false;  // the sysctls vmgw sets (a netconf event: ip_forward may have changed)
  bool operator==(const Recheck&) const = default;
};

// A re-diff when `e` shows the host holding something other than what vmgw owns: one of its
// objects gone or changed, or an object of its own kind (its protocol, an address in its ranges)
// it does not plan. Other programs' objects call for nothing: they are never touched. A VM's
// port that disappears is a VM stopping, not a contradiction. Lost notifications: everything.
Recheck recheck_for(const backend::NetEvent& e, const Owned& owned);

// Whether a file event in the DHCP directory may concern a hosts file ("<network>.hosts"): its
// logs and lease events live there too, and are written all the time.
bool concerns_hosts(const backend::FileEvent& e);

// The kind of object an operation restores, as vmgw_self_heals_total{kind} and the log name it:
// "address", "route", "rule", "nexthop", "bridge_port", "link".
std::string heal_kind(NetOp::Kind k);

// When to re-diff: after the first contradiction, once no other came for `quiet` (a burst is
// one diff), and at the latest `longest` after the first (a steady stream does not starve it).
// And not in a spin with another program that undoes a restore at once, every time (a network
// manager removing addresses it does not know): once one object was restored kFightHeals times
// within kFightWindow, at most one re-diff per kFightPace, until that stops.
class HealTimer {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr size_t kFightHeals = 5;
  static constexpr auto kFightWindow = std::chrono::seconds(5);
  static constexpr auto kFightPace = std::chrono::seconds(1);

  HealTimer(Clock::duration quiet, Clock::duration longest) : quiet_(quiet), longest_(longest) {}
  void noticed(Clock::time_point now);
  // The moment to re-diff, if one is pending.
  std::optional<Clock::time_point> due() const;
  bool ready(Clock::time_point now) const { return due() && *due() <= now; }
  void done() { first_.reset(); }
  // The re-diff restored `objects` ("add address 203.0.113.17/32 on wan0") at `now`. Returns the
  // first of them this makes a fight, once per fight.
  std::optional<std::string> healed(Clock::time_point now, const std::vector<std::string>& objects);
  bool fighting() const;

 private:
  // The last restore of an object in a fight, if any.
  std::optional<Clock::time_point> last_fought() const;

  Clock::duration quiet_, longest_;
  std::optional<Clock::time_point> first_, last_;
  std::map<std::string, std::deque<Clock::time_point>> restores_;  // the last kFightHeals
  std::set<std::string> said_;                                     // the fights already logged
};

}  // namespace vmgw::daemon
