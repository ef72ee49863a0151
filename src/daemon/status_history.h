// What the status page plots: one sample of every uplink (state, probe latency, the device's
// byte counters) every `every` seconds, the last `capacity` of them (by default one per 10 s for
// an hour: 360 samples, a few tens of KB whatever the uptime). Pure (the caller passes the time
// and the readings) and not thread-safe: the daemon's single loop owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace vmgw::daemon {

struct UplinkSample {
  std::string name;
  bool up = false;
  std::optional<double> rtt_ms;  // smoothed probe round trip; nullopt before any answer
  // The device's byte counters (/proc/net/dev); nullopt when the device is missing.
  std::optional<uint64_t> rx_bytes, tx_bytes;
};

struct StatusSample {
  int64_t time_s = 0;  // wall clock, seconds since 1970
  std::vector<UplinkSample> uplinks;
};

class StatusHistory {
 public:
  explicit StatusHistory(size_t capacity = 360, int64_t every_s = 10);
  // Whether a sample is due at `now_s`: the first one at once, then every `every_s`.
  bool due(int64_t now_s) const;
  // Keeps `s`, forgetting the oldest sample when full.
  void add(StatusSample s);
  size_t size() const { return samples_.size(); }
  int64_t every_s() const { return every_s_; }

 private:
  friend nlohmann::json to_json(const StatusHistory& h);
  size_t capacity_;
  int64_t every_s_;
  std::deque<StatusSample> samples_;
};

// {"every_s": 10, "uplinks": {"wan0": [{"t": 1765150000, "up": true, "rtt_ms": 1.2,
// "rx_bps": 800.0, "tx_bps": 120.0}, ...]}}: rates in bytes per second over the time since the
// uplink's previous sample, null for the first sample of an uplink, a missing counter, or a
// counter that went backwards (the device was recreated).
nlohmann::json to_json(const StatusHistory& h);

}  // namespace vmgw::daemon
