#include "daemon/uplink_health.h"

#include <algorithm>
#include <stdexcept>

namespace vmgw::daemon {
namespace {

// Past this many rounds the history drops its oldest even if they are not settled yet; only
// reached if rounds are recorded faster than once per interval.
constexpr size_t kHistorySlack = 8;

double to_ms(ProbeClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

// Round numbers wrap (after 13 years at 10 rounds/s): compare them modulo 2^32.
bool at_or_after(uint32_t a, uint32_t b) {
  return static_cast<int32_t>(a - b) >= 0;
}

// "1 probe", "8 probes".
std::string counted(uint64_t n, const std::string& what) {
  return std::to_string(n) + " " + what + (n == 1 ? "" : "s");
}

bool probing_differs(const UplinkProbeSpec& a, const UplinkProbeSpec& b) {
  return a.device != b.device || a.source != b.source || a.fwmark != b.fwmark ||
         a.targets != b.targets || a.interval != b.interval;
}

}  // namespace

std::string to_string(UplinkState s) {
  return s == UplinkState::up ? "up" : "down";
}

void check_probe_spec(const UplinkProbeSpec& s) {
  if (s.interval.count() <= 0)
    throw std::invalid_argument("uplink " + s.name + ": probe interval must be positive");
  if (s.down_after == 0 || s.up_after == 0)
    throw std::invalid_argument("uplink " + s.name + ": down_after and up_after must be positive");
}

UplinkHealth::UplinkHealth(UplinkProbeSpec spec, bool carrier, ProbeClock::time_point now)
    : spec_(std::move(spec)),
      state_(carrier ? UplinkState::up : UplinkState::down),
      carrier_(carrier),
      silent_since_(now),
      last_change_(now),
      reason_(carrier ? "carrier at start" : "no carrier at start") {
  check_probe_spec(spec_);
}

std::optional<Transition> UplinkHealth::reconfigure(UplinkProbeSpec spec, bool carrier,
                                                    ProbeClock::time_point now) {
  check_probe_spec(spec);
  bool restart = probing_differs(spec_, spec);
  spec_ = std::move(spec);
  if (restart) restart_probing(now);
  if (carrier != carrier_) return set_carrier(carrier, now);
  // Probing turned off: from now on the uplink follows its carrier, which it has.
  if (carrier_ && spec_.targets.empty() && state_ == UplinkState::down)
    return change(UplinkState::up, "carrier up (no longer probed)", now);
  return std::nullopt;
}

uint32_t UplinkHealth::round_sent(ProbeClock::time_point at) {
  if (!probing()) throw std::logic_error("uplink " + spec_.name + ": round sent while not probing");
  uint32_t number = next_round_++;
  history_.push_back({number, at, std::nullopt});
  ++rounds_;
  ++silent_rounds_;
  trim(at);
  return number;
}

std::optional<Transition> UplinkHealth::answer(uint32_t round, ProbeClock::time_point at) {
  Round* r = find(round);
  if (r == nullptr) return std::nullopt;
  if (at > silent_since_) {
    silent_since_ = at;
    silent_rounds_ = static_cast<uint64_t>(std::count_if(
        history_.begin(), history_.end(), [&](const Round& x) { return x.sent > at; }));
  }
  if (r->answered) return std::nullopt;  // another target of the same round
  r->answered = at;
  ++answered_;
  double rtt = std::max(0.0, to_ms(at - r->sent));
  rtt_ms_ = rtt;
  srtt_ms_ = srtt_ms_ ? *srtt_ms_ + (rtt - *srtt_ms_) / 8 : rtt;
  if (state_ == UplinkState::down && probing() && at_or_after(round, epoch_first_) &&
      answered_run(round) >= spec_.up_after) {
    const char* what = spec_.targets.size() == 1 ? "probe" : "round";
    return change(UplinkState::up, counted(spec_.up_after, what) + " answered in a row", at);
  }
  return std::nullopt;
}

std::optional<Transition> UplinkHealth::set_carrier(bool carrier, ProbeClock::time_point now) {
  if (carrier == carrier_) return std::nullopt;
  carrier_ = carrier;
  if (!carrier) return change(UplinkState::down, "carrier lost", now);
  // Carrier back: probing starts over; rounds from before the loss prove nothing now.
  epoch_first_ = next_round_;
  silent_since_ = now;
  silent_rounds_ = 0;
  if (spec_.targets.empty()) return change(UplinkState::up, "carrier back (not probed)", now);
  return std::nullopt;
}

std::optional<Transition> UplinkHealth::evaluate(ProbeClock::time_point now) {
  if (state_ != UplinkState::up || !probing()) return std::nullopt;
  auto silent = now - silent_since_;
  if (silent < silence_limit() || silent_rounds_ < spec_.down_after) return std::nullopt;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(silent).count();
  std::string rounds = spec_.targets.size() == 1
                           ? counted(silent_rounds_, "probe")
                           : counted(silent_rounds_, "round") + " to " +
                                 std::to_string(spec_.targets.size()) + " targets";
  return change(UplinkState::down, "no answer for " + std::to_string(ms) + " ms (" + rounds + ")",
                now);
}

ProbeClock::time_point UplinkHealth::next_deadline() const {
  if (state_ != UplinkState::up || !probing() || silent_rounds_ < spec_.down_after)
    return ProbeClock::time_point::max();
  return silent_since_ + silence_limit();
}

UplinkStatus UplinkHealth::status(ProbeClock::time_point now) const {
  UplinkStatus s;
  s.name = spec_.name;
  s.state = state_;
  s.carrier = carrier_;
  s.rtt_ms = rtt_ms_;
  s.srtt_ms = srtt_ms_;
  s.rounds = rounds_;
  s.answered = answered_;
  s.skipped = skipped_;
  s.transitions = transitions_;
  s.last_change = last_change_;
  s.reason = reason_;
  // A round counts once it is as old as the silence that takes an uplink down: a younger one may
  // still be answered, and counting only the young rounds already answered would hide loss.
  size_t settled = 0, lost = 0;
  for (auto it = history_.rbegin(); it != history_.rend() && settled < kLossWindow; ++it) {
    if (now - it->sent < silence_limit()) continue;
    ++settled;
    if (!it->answered) ++lost;
  }
  s.loss = settled == 0 ? 0 : static_cast<double>(lost) / static_cast<double>(settled);
  return s;
}

std::optional<Transition> UplinkHealth::change(UplinkState to, std::string reason,
                                               ProbeClock::time_point now) {
  if (to == state_) return std::nullopt;
  state_ = to;
  ++transitions_;
  last_change_ = now;
  reason_ = std::move(reason);
  // Coming back up takes rounds sent while down only.
  if (to == UplinkState::down) epoch_first_ = next_round_;
  return Transition{state_, reason_};
}

void UplinkHealth::restart_probing(ProbeClock::time_point now) {
  history_.clear();
  rtt_ms_.reset();
  srtt_ms_.reset();
  epoch_first_ = next_round_;
  silent_since_ = now;
  silent_rounds_ = 0;
}

UplinkHealth::Round* UplinkHealth::find(uint32_t number) {
  if (history_.empty()) return nullptr;
  uint32_t index = number - history_.front().number;
  return index < history_.size() ? &history_[index] : nullptr;
}

uint32_t UplinkHealth::answered_run(uint32_t number) const {
  const size_t at = number - history_.front().number;  // find() succeeded for `number`
  auto counts = [&](size_t i) {
    return history_[i].answered && at_or_after(history_[i].number, epoch_first_);
  };
  uint32_t run = 0;
  for (size_t i = at; i < history_.size() && counts(i); ++i) ++run;
  for (size_t i = at; i-- > 0 && counts(i);) ++run;
  return run;
}

void UplinkHealth::trim(ProbeClock::time_point now) {
  size_t unsettled =
      static_cast<size_t>(std::count_if(history_.begin(), history_.end(), [&](const Round& r) {
        return now - r.sent < silence_limit();
      }));
  size_t base = std::max<size_t>(kLossWindow, spec_.up_after);
  size_t keep = std::min(base + unsettled, base + spec_.down_after + kHistorySlack);
  while (history_.size() > keep) history_.pop_front();
}

}  // namespace vmgw::daemon
