// The uplinks' health, driven from the daemon's single-threaded poll loop: sends every probing
// uplink's rounds on schedule through a backend::Prober, feeds the answers and the carrier
// (backend::LinkWatch) to each uplink's UplinkHealth, and reports the state changes.
//
// The loop polls fds() for POLLIN, with a timeout up to next_deadline(), and calls poll() when
// one of them is readable or the deadline passed (calling it more often is harmless).
//
// Schedule: an uplink's rounds are due every `interval` on a fixed grid from when probing
// started. A poll() that comes late sends ONE round (never a burst to catch up) and moves the
// grid past `now`; the slots it missed are counted as skipped, not as loss: no probe went out,
// so the network lost nothing, and the silence clock only counts rounds actually sent.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "backend/link_watch.h"
#include "backend/prober.h"
#include "daemon/uplink_health.h"

namespace vmgw::daemon {

class UplinkMonitor {
 public:
  struct Change {
    std::string uplink;
    UplinkState state;
    std::string reason;
    bool operator==(const Change&) const = default;
  };

  // Both must outlive the monitor.
  UplinkMonitor(backend::Prober& prober, backend::LinkWatch& links);

  // Makes the monitored uplinks exactly `specs` (daemon start, SIGHUP reload). A new uplink
  // starts UP if its device has carrier, DOWN otherwise, and is listed in the result with that
  // state. An uplink whose name is kept keeps its state and statistics (a change of device,
  // source, mark, targets or interval restarts its round history; see UplinkHealth::
  // reconfigure) and is listed only if the new spec changes its state. Removed uplinks are
  // dropped silently. Changes come in name order. Throws std::invalid_argument, before changing
  // anything, for a duplicate name or a spec check_probe_spec() refuses. The prober is given
  // each uplink's device, source and mark, and a TCP timeout of 2 x down_after x interval.
  std::vector<Change> configure(std::vector<UplinkProbeSpec> specs, ProbeClock::time_point now);

  // The prober's descriptors and the link watch's, to poll for POLLIN.
  std::vector<int> fds() const;
  // When poll() must be called at the latest: the next round due, or an uplink's silence
  // becoming long enough to take it down. time_point::max() if nothing is scheduled.
  ProbeClock::time_point next_deadline() const;

  // Handles the ready fds and every due timer, in this order: carrier changes (read only if the
  // link watch's fd is in `ready_fds`), rounds due (one per uplink at most), the answers (the
  // prober is drained on every call, ready or not, so answers already queued count before
  // silence is judged), then silence. Returns the state changes, in that order.
  std::vector<Change> poll(const std::vector<int>& ready_fds, ProbeClock::time_point now);

  // Every uplink's state and statistics, sorted by name, as of the last configure() or poll().
  std::vector<UplinkStatus> status() const;

 private:
  struct Uplink {
    UplinkHealth health;
    ProbeClock::time_point next_round;  // the grid slot of the next round, while probing
  };

  void send_due(const std::string& name, Uplink& u, ProbeClock::time_point now);

  backend::Prober& prober_;
  backend::LinkWatch& links_;
  std::map<std::string, Uplink> uplinks_;
  ProbeClock::time_point now_{};  // the latest time passed in
};

}  // namespace vmgw::daemon
