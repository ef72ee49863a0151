// GET /v1/uplinks: every uplink as declared, with the numbers the kernel knows it by, its health
// as the probes see it, the networks that send new flows through it now, and the flows pinned
// to it.
#include <chrono>
#include <ctime>

#include "daemon/resources.h"
#include "daemon/routes.h"

namespace vmgw::daemon {
namespace {

using Json = nlohmann::json;

// A steady-clock instant as UTC wall time ("2026-12-03T14:05:09Z").
std::string wall_time(ProbeClock::time_point t) {
  auto wall =
      std::chrono::system_clock::now() -
      std::chrono::duration_cast<std::chrono::system_clock::duration>(ProbeClock::now() - t);
  std::time_t secs = std::chrono::system_clock::to_time_t(wall);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

Json optional_ms(const std::optional<double>& v) {
  return v ? Json(static_cast<double>(static_cast<long>(*v * 100)) / 100) : Json();
}

}  // namespace

Json uplinks_json(Gateway& gw, const std::vector<UplinkStatus>& status) {
  auto flows = gw.flows_per_uplink();
  Json list = Json::array();
  for (const auto& u : gw.topology().uplinks) {
    Json j = uplink_json(u);
    j["weight"] = u.weight;
    j["tier"] = u.tier;
    for (const auto& p : gw.plan_base().uplinks) {
      if (p.name != u.name) continue;
      char mark[16];
      std::snprintf(mark, sizeof mark, "0x%08x", p.mark);
      j["mark"] = mark;
      j["table"] = p.table;
    }
    Json used = Json::array();
    for (const auto& path : gw.plan_base().paths) {
      if (std::find(path.active.begin(), path.active.end(), u.name) == path.active.end()) continue;
      used.push_back(path.network.empty() ? "host" : path.network);
    }
    j["carries"] = used;
    j["flows"] = flows[u.name];
    const UplinkCondition c = condition_of(gw.uplink_health(), u.name);
    j["state"] = c.up() ? "up" : "down";
    j["carrier"] = c.carrier;
    j["probed"] = false;
    for (const auto& s : status) {
      if (s.name != u.name) continue;
      j["probed"] = true;
      j["rtt_ms"] = optional_ms(s.srtt_ms);
      j["loss"] = static_cast<double>(static_cast<long>(s.loss * 1000)) / 1000;
      j["rounds"] = s.rounds;
      j["answered"] = s.answered;
      j["transitions"] = s.transitions;
      j["last_change"] = wall_time(s.last_change);
      j["reason"] = s.reason;
      if (!s.probe_error.empty()) j["probe_error"] = s.probe_error;
    }
    list.push_back(j);
  }
  return list;
}

}  // namespace vmgw::daemon
