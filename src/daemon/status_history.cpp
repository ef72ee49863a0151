#include "daemon/status_history.h"

#include <algorithm>
#include <map>

namespace vmgw::daemon {
namespace {

using Json = nlohmann::json;

Json rate(std::optional<uint64_t> before, std::optional<uint64_t> now, int64_t seconds) {
  if (!before || !now || *now < *before || seconds <= 0) return nullptr;
  return static_cast<double>(*now - *before) / static_cast<double>(seconds);
}

}  // namespace

StatusHistory::StatusHistory(size_t capacity, int64_t every_s)
    : capacity_(std::max<size_t>(capacity, 1)), every_s_(std::max<int64_t>(every_s, 1)) {}

bool StatusHistory::due(int64_t now_s) const {
  // A clock stepped back (NTP) must not stop sampling for as long as it stepped.
  return samples_.empty() || now_s >= samples_.back().time_s + every_s_ ||
         now_s < samples_.back().time_s;
}

void StatusHistory::add(StatusSample s) {
  if (samples_.size() == capacity_) samples_.pop_front();
  samples_.push_back(std::move(s));
}

Json to_json(const StatusHistory& h) {
  Json uplinks = Json::object();
  // The previous sample of each uplink, by name: uplinks come and go with reloads.
  std::map<std::string, std::pair<int64_t, const UplinkSample*>> previous;
  for (const auto& s : h.samples_) {
    for (const auto& u : s.uplinks) {
      Json point = {{"t", s.time_s},
                    {"up", u.up},
                    {"rtt_ms", u.rtt_ms ? Json(*u.rtt_ms) : Json()},
                    {"rx_bps", nullptr},
                    {"tx_bps", nullptr}};
      if (auto p = previous.find(u.name); p != previous.end()) {
        int64_t dt = s.time_s - p->second.first;
        point["rx_bps"] = rate(p->second.second->rx_bytes, u.rx_bytes, dt);
        point["tx_bps"] = rate(p->second.second->tx_bytes, u.tx_bytes, dt);
      }
      if (!uplinks.contains(u.name)) uplinks[u.name] = Json::array();
      uplinks[u.name].push_back(std::move(point));
      previous[u.name] = {s.time_s, &u};
    }
  }
  return {{"every_s", h.every_s_}, {"uplinks", uplinks}};
}

}  // namespace vmgw::daemon
