// The health of one uplink, judged from its probe rounds and its carrier: a pure state machine
// (no I/O, no clock of its own; the caller passes the time), so every timing rule is unit-tested.
//
// The rules, with the defaults (interval 100 ms, down_after 8, up_after 10):
//  - Every interval one ROUND goes out: one probe to each target. A round is answered when any
//    target answers it, however late: a late answer still counts for its own round.
//  - DOWN (from up) when no answer at all arrived for down_after x interval (800 ms) AND at
//    least down_after rounds went out in that time. The silence runs from the arrival of the
//    latest answer to any round (or from when probing started). It is the gap between answers,
//    not a per-probe timeout, so a latency increase smaller than down_after x interval does not
//    flap the uplink (a bigger one cannot be told from a dead link). The round count keeps a
//    daemon that was too busy to send from mistaking its own stall for silence: rounds it never
//    sent are no evidence. With rounds on schedule, a link that dies is out 700 to 800 ms
//    later (its last answer arrived less than one interval before it died).
//  - UP (from down) when up_after consecutive rounds (by round number), all sent since the
//    uplink went down or probing (re)started, are answered. An unanswered round in between
//    breaks the run (unless its own late answer fills the hole).
//  - Carrier: losing it (no IFF_LOWER_UP, or admin down) takes the uplink DOWN at once and stops
//    probing; carrier back restarts probing, UP after up_after answered rounds. An uplink with
//    no targets is not probed and follows its carrier only.
//  - At construction (daemon start) an uplink with carrier starts UP, so a restart does not
//    flap routes; one without starts DOWN. The first state is not counted as a transition.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "model/net.h"

namespace vmgw::daemon {

using ProbeClock = std::chrono::steady_clock;

struct ProbeTarget {
  Ipv4 address;
  uint16_t tcp_port = 0;  // 0: ICMP echo; else a TCP connect (SYN-ACK or RST is an answer)
  auto operator<=>(const ProbeTarget&) const = default;
};

struct UplinkProbeSpec {
  std::string name;     // the uplink's name
  std::string device;   // SO_BINDTODEVICE; its carrier is the uplink's carrier
  Ipv4 source;          // the uplink's own address (bind); 0.0.0.0: not bound to an address
  uint32_t fwmark = 0;  // SO_MARK (0: no mark)
  std::vector<ProbeTarget> targets;  // empty: not probed, follows carrier only
  std::chrono::milliseconds interval{100};
  uint32_t down_after = 8;
  uint32_t up_after = 10;
  bool operator==(const UplinkProbeSpec&) const = default;
};

enum class UplinkState { up, down };

// "up" or "down".
std::string to_string(UplinkState s);

// Throws std::invalid_argument naming the uplink unless interval, down_after and up_after are
// positive (the config validation refuses these before; this guards the invariant).
void check_probe_spec(const UplinkProbeSpec& spec);

struct UplinkStatus {
  std::string name;
  UplinkState state = UplinkState::down;
  bool carrier = false;
  std::optional<double> rtt_ms;   // the latest answered round's RTT; nullopt before any answer
  std::optional<double> srtt_ms;  // smoothed RTT (EWMA, 1/8 weight to the newest sample)
  // Unanswered fraction of the last 100 settled rounds: rounds sent at least down_after x
  // interval ago (a younger round may still be answered). 0 before any round settled.
  double loss = 0;
  uint64_t rounds = 0;       // rounds sent (each is one probe per target)
  uint64_t answered = 0;     // rounds answered (by at least one target)
  uint64_t skipped = 0;      // rounds not sent because the caller came too late (not loss)
  uint64_t transitions = 0;  // state changes since the uplink was first configured
  ProbeClock::time_point last_change;  // of the state (or of the first state)
  std::string reason;       // of the last change: "no answer for 800 ms (8 probes)", "carrier lost"
  std::string probe_error;  // the last failure to send probes ("" while sending works)
};

// A change of state and why, in the operator's words.
struct Transition {
  UplinkState state;
  std::string reason;
  bool operator==(const Transition&) const = default;
};

// One uplink's state machine: fed with rounds sent, answers and carrier; says when it changes.
// Not thread-safe. Times passed in must not go backwards.
class UplinkHealth {
 public:
  // Rounds the loss fraction is computed over.
  static constexpr size_t kLossWindow = 100;

  // Starts UP with carrier ("carrier at start"), DOWN without ("no carrier at start"). Throws
  // std::invalid_argument if interval, down_after or up_after is not positive.
  UplinkHealth(UplinkProbeSpec spec, bool carrier, ProbeClock::time_point now);

  // Takes a new spec for the same uplink. A change of device, source, mark, targets or interval
  // restarts the round history (loss window, RTT, runs; the silence clock starts at `now`);
  // state, transitions and the cumulative counters stay. `carrier` is the (possibly new)
  // device's carrier. Returns the transition this causes, if any.
  std::optional<Transition> reconfigure(UplinkProbeSpec spec, bool carrier,
                                        ProbeClock::time_point now);

  const UplinkProbeSpec& spec() const { return spec_; }
  UplinkState state() const { return state_; }
  bool carrier() const { return carrier_; }
  // Whether rounds should be sent: there are targets and carrier.
  bool probing() const { return carrier_ && !spec_.targets.empty(); }

  // Records that a round went out at `at` (to every target) and returns its number, which the
  // answers must carry. Round numbers only grow, across reconfigurations too. Only while
  // probing() (throws std::logic_error otherwise).
  uint32_t round_sent(ProbeClock::time_point at);
  // Records that `count` rounds due before `at` were not sent (the caller was late): they are
  // neither loss nor silence, only counted in `skipped`.
  void rounds_skipped(uint64_t count) { skipped_ += count; }
  // An answer to round `round` from one of its targets, arrived at `at`. Answers to rounds the
  // history no longer holds (or never sent), and repeated answers to a round, change nothing
  // but are harmless. May bring the uplink UP.
  std::optional<Transition> answer(uint32_t round, ProbeClock::time_point at);
  // The device's carrier (IFF_UP and IFF_LOWER_UP). Losing it takes an UP uplink DOWN at once;
  // getting it back restarts probing (or brings an unprobed uplink UP at once).
  std::optional<Transition> set_carrier(bool carrier, ProbeClock::time_point now);
  // Judges the silence at `now`: may take an UP uplink DOWN. Call after recording the rounds
  // sent and the answers received up to `now`.
  std::optional<Transition> evaluate(ProbeClock::time_point now);
  // When evaluate() can next change something without any other input (the silence turning
  // long enough); time_point::max() if only a round or an answer can.
  ProbeClock::time_point next_deadline() const;

  // State and statistics as of `now` (which only decides which rounds are settled for loss).
  UplinkStatus status(ProbeClock::time_point now) const;

 private:
  struct Round {
    uint32_t number = 0;
    ProbeClock::time_point sent;
    std::optional<ProbeClock::time_point> answered;
  };

  std::optional<Transition> change(UplinkState to, std::string reason, ProbeClock::time_point now);
  // Forgets the rounds; the silence clock and the up run start over at `now`.
  void restart_probing(ProbeClock::time_point now);
  Round* find(uint32_t number);
  // Length of the run of answered rounds through `number`, counting only rounds of this epoch.
  uint32_t answered_run(uint32_t number) const;
  ProbeClock::duration silence_limit() const { return spec_.interval * spec_.down_after; }
  void trim(ProbeClock::time_point now);

  UplinkProbeSpec spec_;
  UplinkState state_;
  bool carrier_;
  std::deque<Round> history_;  // consecutive round numbers, oldest first
  uint32_t next_round_ = 0;
  uint32_t epoch_first_ = 0;  // the first round of the current probing epoch (up runs)
  // Silence: since the last answer arrived (or probing started), and rounds sent since.
  ProbeClock::time_point silent_since_;
  uint64_t silent_rounds_ = 0;
  std::optional<double> rtt_ms_, srtt_ms_;
  uint64_t rounds_ = 0, answered_ = 0, skipped_ = 0, transitions_ = 0;
  ProbeClock::time_point last_change_;
  std::string reason_;
};

}  // namespace vmgw::daemon
