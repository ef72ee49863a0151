#include "daemon/uplink_monitor.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace vmgw::daemon {
namespace {

backend::ProbeUplink probe_uplink(const UplinkProbeSpec& s) {
  backend::ProbeUplink u;
  u.name = s.name;
  u.device = s.device;
  u.source = s.source;
  u.fwmark = s.fwmark;
  // Twice the silence that takes the uplink down: a TCP answer later than that changes nothing.
  u.tcp_timeout = 2 * s.interval * s.down_after;
  return u;
}

std::vector<backend::ProbeDestination> destinations(const UplinkProbeSpec& s) {
  std::vector<backend::ProbeDestination> out;
  for (const auto& t : s.targets) out.push_back({t.address, t.tcp_port});
  return out;
}

bool contains(const std::vector<int>& fds, int fd) {
  return std::find(fds.begin(), fds.end(), fd) != fds.end();
}

}  // namespace

UplinkMonitor::UplinkMonitor(backend::Prober& prober, backend::LinkWatch& links)
    : prober_(prober), links_(links) {}

std::vector<UplinkMonitor::Change> UplinkMonitor::configure(std::vector<UplinkProbeSpec> specs,
                                                            ProbeClock::time_point now) {
  std::set<std::string> names;
  for (const auto& s : specs) {
    check_probe_spec(s);
    if (!names.insert(s.name).second)
      throw std::invalid_argument("uplink " + s.name + " is configured twice");
  }
  std::sort(specs.begin(), specs.end(),
            [](const UplinkProbeSpec& a, const UplinkProbeSpec& b) { return a.name < b.name; });
  now_ = now;
  const auto carrier = links_.carrier();
  auto has_carrier = [&](const std::string& device) {
    auto it = carrier.find(device);
    return it != carrier.end() && it->second;
  };

  std::vector<Change> changes;
  std::map<std::string, Uplink> next;
  std::vector<backend::ProbeUplink> sockets;
  for (auto& s : specs) {
    sockets.push_back(probe_uplink(s));
    bool c = has_carrier(s.device);
    std::string name = s.name;
    auto it = uplinks_.find(name);
    if (it == uplinks_.end()) {
      Uplink u{UplinkHealth(std::move(s), c, now), now};
      auto st = u.health.status(now);
      changes.push_back({name, st.state, st.reason});
      next.emplace(name, std::move(u));
      continue;
    }
    Uplink u = std::move(it->second);
    bool was_probing = u.health.probing();
    UplinkProbeSpec old = u.health.spec();
    if (auto t = u.health.reconfigure(std::move(s), c, now))
      changes.push_back({name, t->state, t->reason});
    const auto& spec = u.health.spec();
    bool restarted = old.device != spec.device || old.source != spec.source ||
                     old.fwmark != spec.fwmark || old.targets != spec.targets ||
                     old.interval != spec.interval;
    if (u.health.probing() && (!was_probing || restarted)) u.next_round = now;
    next.emplace(name, std::move(u));
  }
  uplinks_ = std::move(next);
  prober_.configure(sockets);
  return changes;
}

std::vector<int> UplinkMonitor::fds() const {
  std::vector<int> out = prober_.fds();
  out.push_back(links_.fd());
  return out;
}

ProbeClock::time_point UplinkMonitor::next_deadline() const {
  auto at = ProbeClock::time_point::max();
  for (const auto& [name, u] : uplinks_) {
    if (u.health.probing()) at = std::min(at, u.next_round);
    at = std::min(at, u.health.next_deadline());
  }
  return at;
}

std::vector<UplinkMonitor::Change> UplinkMonitor::poll(const std::vector<int>& ready_fds,
                                                       ProbeClock::time_point now) {
  now_ = std::max(now_, now);
  std::vector<Change> changes;
  auto note = [&](const std::string& name, const std::optional<Transition>& t) {
    if (t) changes.push_back({name, t->state, t->reason});
  };

  if (contains(ready_fds, links_.fd())) {
    for (const auto& [device, carrier] : links_.read_ready()) {
      for (auto& [name, u] : uplinks_) {
        if (u.health.spec().device != device) continue;
        bool was_probing = u.health.probing();
        note(name, u.health.set_carrier(carrier, now));
        if (!was_probing && u.health.probing()) u.next_round = now;  // probe at once
      }
    }
  }
  for (auto& [name, u] : uplinks_) send_due(name, u, now);
  for (const auto& a : prober_.read_ready(now)) {
    auto it = uplinks_.find(a.uplink);
    if (it != uplinks_.end()) note(a.uplink, it->second.health.answer(a.round, a.at));
  }
  for (auto& [name, u] : uplinks_) note(name, u.health.evaluate(now));
  return changes;
}

void UplinkMonitor::send_due(const std::string& name, Uplink& u, ProbeClock::time_point now) {
  if (!u.health.probing() || now < u.next_round) return;
  uint32_t round = u.health.round_sent(now);
  prober_.send_round(name, round, destinations(u.health.spec()), now);
  // The slots this call came too late for are skipped, not sent in a burst.
  const auto interval = std::chrono::duration_cast<ProbeClock::duration>(u.health.spec().interval);
  auto missed = static_cast<uint64_t>((now - u.next_round) / interval);
  if (missed > 0) u.health.rounds_skipped(missed);
  u.next_round += interval * static_cast<int64_t>(missed + 1);
}

std::vector<UplinkStatus> UplinkMonitor::status() const {
  std::vector<UplinkStatus> out;
  for (const auto& [name, u] : uplinks_) {
    auto s = u.health.status(now_);
    s.probe_error = prober_.send_error(name);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace vmgw::daemon
