#include "daemon/uplink_health.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <stdexcept>
#include <utility>
#include <vector>

namespace vmgw::daemon {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;
using Time = ProbeClock::time_point;

const Time kT0{std::chrono::hours(1)};

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}

UplinkProbeSpec one_target() {
  UplinkProbeSpec s;
  s.name = "isp1";
  s.device = "wan0";
  s.source = ip("203.0.113.2");
  s.fwmark = 0x100;
  s.targets = {{ip("198.51.100.1"), 0}};
  return s;
}

// Drives one UplinkHealth the way UplinkMonitor does: a round on the interval grid while
// probing, answers when they arrive, silence judged at every event (round, answer, deadline).
// `fate` decides, when a round is sent, after how long it is answered (nullopt: never).
class Sim {
 public:
  using Fate = std::function<std::optional<ms>(uint32_t round, Time sent)>;

  explicit Sim(UplinkProbeSpec spec = one_target(), bool carrier = true)
      : health(std::move(spec), carrier, kT0), now(kT0), next_round_(kT0) {}

  void run_until(Time end) {
    for (;;) {
      Time t = std::min({health.probing() ? next_round_ : Time::max(),
                         answers_.empty() ? Time::max() : answers_.begin()->first,
                         health.next_deadline()});
      if (t > end) break;
      now = t;
      if (health.probing() && next_round_ <= now) {
        uint32_t r = health.round_sent(now);
        if (auto d = fate(r, now)) answers_.emplace(now + *d, r);
        next_round_ += health.spec().interval;
      }
      while (!answers_.empty() && answers_.begin()->first <= now) {
        note(health.answer(answers_.begin()->second, now));
        answers_.erase(answers_.begin());
      }
      note(health.evaluate(now));
    }
    now = end;
    note(health.evaluate(now));
  }
  void run_for(ProbeClock::duration d) { run_until(now + d); }

  void carrier(bool c) {
    note(health.set_carrier(c, now));
    if (!c) answers_.clear();  // nothing arrives over a dead link
    next_round_ = now;
  }

  UplinkStatus status() const { return health.status(now); }

  UplinkHealth health;
  Time now;
  Fate fate = [](uint32_t, Time) { return std::optional<ms>(5ms); };
  std::vector<std::pair<Time, Transition>> log;  // every transition and when

 private:
  void note(const std::optional<Transition>& t) {
    if (t) log.emplace_back(now, *t);
  }
  Time next_round_;
  std::multimap<Time, uint32_t> answers_;
};

TEST(UplinkHealth, StartsUpWithCarrierAndDownWithout) {
  UplinkHealth up(one_target(), true, kT0);
  EXPECT_EQ(up.state(), UplinkState::up);
  EXPECT_TRUE(up.probing());
  auto s = up.status(kT0);
  EXPECT_EQ(s.reason, "carrier at start");
  EXPECT_EQ(s.last_change, kT0);
  EXPECT_EQ(s.transitions, 0U);
  EXPECT_TRUE(s.carrier);

  UplinkHealth down(one_target(), false, kT0);
  EXPECT_EQ(down.state(), UplinkState::down);
  EXPECT_FALSE(down.probing());
  EXPECT_EQ(down.status(kT0).reason, "no carrier at start");
  EXPECT_FALSE(down.status(kT0).carrier);
}

TEST(UplinkHealth, RefusesNonPositiveSettings) {
  auto s = one_target();
  s.interval = 0ms;
  EXPECT_THROW(UplinkHealth(s, true, kT0), std::invalid_argument);
  s = one_target();
  s.down_after = 0;
  EXPECT_THROW(UplinkHealth(s, true, kT0), std::invalid_argument);
  s = one_target();
  s.up_after = 0;
  EXPECT_THROW(UplinkHealth(s, true, kT0), std::invalid_argument);
}

// Rounds answered in 5 ms until round 20, then nothing: checked every millisecond, the uplink
// is up until exactly 800 ms after the last answer and down from then on.
TEST(UplinkHealth, DownAfterExactlyDownAfterSilentRounds) {
  UplinkHealth h(one_target(), true, kT0);
  Time last_answer{};
  std::optional<Time> down_at;
  for (int t = 0; t < 4000 && !down_at; ++t) {
    Time now = kT0 + ms(t);
    if (t % 100 == 0) h.round_sent(now);
    // Round r (sent at r*100 ms) is answered at r*100 + 5 ms, for rounds 0..19.
    if (t % 100 == 5 && t / 100 < 20) {
      EXPECT_FALSE(h.answer(static_cast<uint32_t>(t / 100), now));
      last_answer = now;
    }
    if (auto tr = h.evaluate(now)) {
      down_at = now;
      EXPECT_EQ(tr->state, UplinkState::down);
      EXPECT_EQ(tr->reason, "no answer for 800 ms (8 probes)");
    }
  }
  ASSERT_TRUE(down_at);
  EXPECT_EQ(*down_at - last_answer, 800ms);
  // The first lost probe went out at 2000 ms: detected 705 ms later.
  EXPECT_LT(*down_at - (kT0 + 2000ms), 1s);
  EXPECT_EQ(h.state(), UplinkState::down);
  EXPECT_EQ(h.status(*down_at).transitions, 1U);
  EXPECT_EQ(h.status(*down_at).last_change, *down_at);
}

// A link that dies at any moment (probes sent or answers travelling after it are lost) is
// taken out in less than a second with the defaults, and not sooner than 700 ms.
TEST(UplinkHealth, DetectionUnderOneSecondWhateverTheMomentOfFailure) {
  for (int offset = 0; offset < 100; ++offset) {
    for (ms rtt : {1ms, 20ms, 90ms}) {
      Sim sim;
      const Time dies = kT0 + 3s + ms(offset);
      sim.fate = [&](uint32_t, Time sent) -> std::optional<ms> {
        if (sent + rtt >= dies) return std::nullopt;
        return rtt;
      };
      sim.run_until(dies + 3s);
      ASSERT_EQ(sim.log.size(), 1U) << "offset " << offset << " rtt " << rtt.count();
      auto took = sim.log[0].first - dies;
      EXPECT_LT(took, 1s) << "offset " << offset << " rtt " << rtt.count();
      EXPECT_GE(took, 700ms) << "offset " << offset << " rtt " << rtt.count();
      EXPECT_EQ(sim.log[0].second.state, UplinkState::down);
    }
  }
}

TEST(UplinkHealth, NotDownBeforeDownAfterRoundsWentOut) {
  // The daemon was busy for 2 s and sent nothing: its own stall is no evidence.
  UplinkHealth h(one_target(), true, kT0);
  h.round_sent(kT0);
  h.answer(0, kT0 + 5ms);
  EXPECT_FALSE(h.evaluate(kT0 + 2s));
  EXPECT_EQ(h.next_deadline(), Time::max());
  // Probing resumes on a dead link: down once 8 rounds went out and 800 ms passed.
  for (int i = 0; i < 7; ++i) {
    h.round_sent(kT0 + 2s + ms(100 * i));
    EXPECT_FALSE(h.evaluate(kT0 + 2s + ms(100 * i)));
  }
  h.round_sent(kT0 + 2700ms);
  auto t = h.evaluate(kT0 + 2700ms);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason, "no answer for 2695 ms (8 probes)");
}

TEST(UplinkHealth, NextDeadlineIsWhenSilenceBecomesLongEnough) {
  UplinkHealth h(one_target(), true, kT0);
  h.round_sent(kT0);
  h.answer(0, kT0 + 10ms);
  for (int i = 1; i <= 7; ++i) h.round_sent(kT0 + ms(100 * i));
  EXPECT_EQ(h.next_deadline(), Time::max());  // the 8th round decides
  h.round_sent(kT0 + 800ms);
  EXPECT_EQ(h.next_deadline(), kT0 + 810ms);
  EXPECT_FALSE(h.evaluate(kT0 + 809ms));
  EXPECT_TRUE(h.evaluate(kT0 + 810ms));
  EXPECT_EQ(h.next_deadline(), Time::max());  // down: nothing left to time
}

TEST(UplinkHealth, LateAnswersCountForTheirRoundAndLatencyAloneDoesNotFlap) {
  Sim sim;
  // 10 ms, then the RTT jumps to 700 ms for 10 s, then back: never down.
  sim.fate = [](uint32_t, Time sent) -> std::optional<ms> {
    if (sent >= kT0 + 2s && sent < kT0 + 12s) return 700ms;
    return 10ms;
  };
  sim.run_until(kT0 + 20s - 1ms);
  EXPECT_TRUE(sim.log.empty());
  auto s = sim.status();
  EXPECT_EQ(s.state, UplinkState::up);
  EXPECT_EQ(s.rounds, 200U);
  EXPECT_EQ(s.answered, 200U);
  EXPECT_DOUBLE_EQ(s.loss, 0.0);
  EXPECT_DOUBLE_EQ(*s.rtt_ms, 10.0);

  // A round answered after its successors: its own RTT, and it counts as answered.
  UplinkHealth h(one_target(), true, kT0);
  h.round_sent(kT0);
  h.round_sent(kT0 + 100ms);
  h.round_sent(kT0 + 200ms);
  h.answer(1, kT0 + 110ms);
  h.answer(0, kT0 + 250ms);
  EXPECT_DOUBLE_EQ(*h.status(kT0 + 250ms).rtt_ms, 250.0);
  EXPECT_EQ(h.status(kT0 + 250ms).answered, 2U);
}

TEST(UplinkHealth, LatencyBeyondTheSilenceLimitIsDown) {
  // An RTT jump bigger than down_after x interval cannot be told from a dead link.
  Sim sim;
  sim.fate = [](uint32_t, Time sent) -> std::optional<ms> {
    return sent >= kT0 + 2s ? 1500ms : 10ms;
  };
  sim.run_until(kT0 + 10s);
  ASSERT_GE(sim.log.size(), 1U);
  EXPECT_EQ(sim.log[0].second.state, UplinkState::down);
  EXPECT_EQ(sim.log[0].first, kT0 + 1910ms + 800ms);
}

TEST(UplinkHealth, UpAfterUpAfterAnsweredRounds) {
  Sim sim(one_target(), false);
  sim.run_for(1s);
  EXPECT_EQ(sim.status().rounds, 0U);  // no carrier: not probed
  sim.carrier(true);
  EXPECT_TRUE(sim.log.empty());  // carrier alone does not bring a probed uplink up
  const Time back = sim.now;
  sim.run_until(back + 904ms);  // rounds 0..9 sent, 0..8 answered (at +5 ms each)
  EXPECT_TRUE(sim.log.empty());
  EXPECT_EQ(sim.health.state(), UplinkState::down);
  sim.run_until(back + 1s);
  ASSERT_EQ(sim.log.size(), 1U);
  EXPECT_EQ(sim.log[0].first, back + 905ms);  // the 10th answer
  EXPECT_EQ(sim.log[0].second, (Transition{UplinkState::up, "10 probes answered in a row"}));
  EXPECT_EQ(sim.status().transitions, 1U);
}

TEST(UplinkHealth, OneLostRoundInBetweenResetsTheUpCount) {
  UplinkHealth h(one_target(), false, kT0);
  h.set_carrier(true, kT0);
  Time t = kT0;
  for (uint32_t r = 0; r < 16; ++r, t += 100ms) {
    ASSERT_EQ(h.round_sent(t), r);
    if (r == 5) continue;  // lost
    auto tr = h.answer(r, t + 5ms);
    if (r < 15) {
      EXPECT_FALSE(tr) << "round " << r;  // 6..14 is a run of 9
    } else {
      ASSERT_TRUE(tr);  // 6..15: 10 in a row
      EXPECT_EQ(tr->state, UplinkState::up);
    }
  }
}

TEST(UplinkHealth, ALateAnswerFillsItsHoleInTheRun) {
  UplinkHealth h(one_target(), false, kT0);
  h.set_carrier(true, kT0);
  for (uint32_t r = 0; r < 10; ++r) h.round_sent(kT0 + r * 100ms);
  for (uint32_t r = 0; r < 10; ++r) {
    if (r == 3) continue;
    EXPECT_FALSE(h.answer(r, kT0 + r * 100ms + 5ms));
  }
  auto tr = h.answer(3, kT0 + 990ms);  // 690 ms late: rounds 0..9 are all answered now
  ASSERT_TRUE(tr);
  EXPECT_EQ(tr->state, UplinkState::up);
}

TEST(UplinkHealth, RoundsSentBeforeGoingDownDoNotCountForComingBack) {
  auto spec = one_target();
  spec.up_after = 3;
  spec.down_after = 2;
  UplinkHealth h(spec, true, kT0);
  h.round_sent(kT0);                     // 0: answered late, below
  h.round_sent(kT0 + 100ms);             // 1
  h.round_sent(kT0 + 200ms);             // 2
  ASSERT_TRUE(h.evaluate(kT0 + 200ms));  // no answer for 200 ms (3 probes): down
  h.round_sent(kT0 + 300ms);             // 3
  h.round_sent(kT0 + 400ms);             // 4
  // 0..4 all answered; only 3 and 4 were sent while down: a run of 2 < 3.
  for (uint32_t r = 0; r < 5; ++r) EXPECT_FALSE(h.answer(r, kT0 + 450ms)) << r;
  h.round_sent(kT0 + 500ms);
  EXPECT_TRUE(h.answer(5, kT0 + 505ms));
}

TEST(UplinkHealth, CarrierLossIsImmediateAndCarrierBackThenProbes) {
  Sim sim;
  sim.run_for(2s);
  ASSERT_TRUE(sim.log.empty());
  sim.carrier(false);
  ASSERT_EQ(sim.log.size(), 1U);
  EXPECT_EQ(sim.log[0].first, kT0 + 2s);
  EXPECT_EQ(sim.log[0].second, (Transition{UplinkState::down, "carrier lost"}));
  EXPECT_FALSE(sim.health.probing());
  auto sent = sim.status().rounds;
  sim.run_for(5s);
  EXPECT_EQ(sim.status().rounds, sent);  // no probes without carrier
  EXPECT_EQ(sim.log.size(), 1U);

  sim.carrier(true);
  EXPECT_EQ(sim.health.state(), UplinkState::down);
  sim.run_for(2s);
  ASSERT_EQ(sim.log.size(), 2U);
  EXPECT_EQ(sim.log[1].first, kT0 + 7s + 905ms);
  EXPECT_EQ(sim.log[1].second.state, UplinkState::up);
  auto s = sim.status();
  EXPECT_EQ(s.transitions, 2U);
  EXPECT_EQ(s.last_change, kT0 + 7s + 905ms);
  EXPECT_EQ(s.reason, "10 probes answered in a row");
}

TEST(UplinkHealth, CarrierLostWhileDownForSilenceIsNoTransition) {
  Sim sim;
  sim.fate = [](uint32_t, Time) { return std::nullopt; };
  sim.run_for(2s);
  ASSERT_EQ(sim.log.size(), 1U);
  sim.carrier(false);
  EXPECT_EQ(sim.log.size(), 1U);
  EXPECT_FALSE(sim.status().carrier);
  // Silence counts from the start of probing, when round 0 went out: 9 rounds in 800 ms.
  EXPECT_EQ(sim.status().reason, "no answer for 800 ms (9 probes)");
}

TEST(UplinkHealth, UnprobedUplinkFollowsCarrierOnly) {
  auto spec = one_target();
  spec.targets.clear();
  Sim sim(spec, true);
  sim.run_for(10s);
  EXPECT_TRUE(sim.log.empty());
  EXPECT_FALSE(sim.health.probing());
  EXPECT_EQ(sim.status().rounds, 0U);
  sim.carrier(false);
  sim.carrier(true);
  ASSERT_EQ(sim.log.size(), 2U);
  EXPECT_EQ(sim.log[0].second, (Transition{UplinkState::down, "carrier lost"}));
  EXPECT_EQ(sim.log[1].second, (Transition{UplinkState::up, "carrier back (not probed)"}));
}

// 10% independent loss never takes an uplink out with the defaults: 1000 runs of 60 s
// (600 rounds each) with random RTTs. P(8 losses in a row) is 1e-8 per round.
TEST(UplinkHealth, TenPercentRandomLossNeverTakesItDown) {
  int downs = 0;
  double loss_sum = 0;
  for (uint32_t seed = 1; seed <= 1000; ++seed) {
    std::mt19937 rng(seed);
    std::bernoulli_distribution lost(0.10);
    std::uniform_int_distribution<int> rtt(2, 80);
    Sim sim;
    sim.fate = [&](uint32_t, Time) -> std::optional<ms> {
      if (lost(rng)) return std::nullopt;
      return ms(rtt(rng));
    };
    sim.run_until(kT0 + 60s - 1ms);
    ASSERT_EQ(sim.status().rounds, 600U);
    downs += static_cast<int>(sim.log.size());
    loss_sum += sim.status().loss;
  }
  EXPECT_EQ(downs, 0);
  EXPECT_NEAR(loss_sum / 1000, 0.10, 0.01);  // the loss statistic measures what happened
}

// The same simulation does fail when loss is heavy: the test above can see a down.
TEST(UplinkHealth, HeavyRandomLossDoesTakeItDown) {
  std::mt19937 rng(7);
  std::bernoulli_distribution lost(0.6);
  Sim sim;
  sim.fate = [&](uint32_t, Time) -> std::optional<ms> {
    if (lost(rng)) return std::nullopt;
    return 10ms;
  };
  sim.run_for(60s);
  ASSERT_FALSE(sim.log.empty());
  EXPECT_EQ(sim.log[0].second.state, UplinkState::down);
}

TEST(UplinkHealth, LossIsOverTheLast100SettledRounds) {
  Sim sim;
  sim.fate = [](uint32_t r, Time) -> std::optional<ms> {
    if (r % 4 == 0) return std::nullopt;
    return 10ms;
  };
  sim.run_until(kT0 + 20s - 1ms);  // rounds 0..199
  auto s = sim.status();
  EXPECT_EQ(s.rounds, 200U);
  EXPECT_EQ(s.answered, 150U);
  // The 8 rounds of the last 800 ms are not settled: rounds 92..191, 25 of them lost.
  EXPECT_DOUBLE_EQ(s.loss, 0.25);
  sim.fate = [](uint32_t, Time) { return std::optional<ms>(10ms); };
  sim.run_for(9s);
  EXPECT_DOUBLE_EQ(sim.status().loss, 0.04);  // rounds 182..281: 184, 188, 192, 196 lost
}

TEST(UplinkHealth, YoungUnansweredRoundsAreNotLossYet) {
  UplinkHealth h(one_target(), true, kT0);
  h.round_sent(kT0);
  EXPECT_DOUBLE_EQ(h.status(kT0 + 799ms).loss, 0.0);
  EXPECT_DOUBLE_EQ(h.status(kT0 + 800ms).loss, 1.0);
  h.answer(0, kT0 + 850ms);  // a late answer turns it back
  EXPECT_DOUBLE_EQ(h.status(kT0 + 850ms).loss, 0.0);
}

TEST(UplinkHealth, RttAndSmoothedRtt) {
  UplinkHealth h(one_target(), true, kT0);
  EXPECT_FALSE(h.status(kT0).rtt_ms);
  EXPECT_FALSE(h.status(kT0).srtt_ms);
  h.round_sent(kT0);
  h.answer(0, kT0 + 20ms);
  h.round_sent(kT0 + 100ms);
  h.answer(1, kT0 + 100ms + 100ms);
  auto s = h.status(kT0 + 200ms);
  EXPECT_DOUBLE_EQ(*s.rtt_ms, 100.0);
  EXPECT_DOUBLE_EQ(*s.srtt_ms, 20.0 + (100.0 - 20.0) / 8);
  // Another target answering the same round changes nothing.
  h.answer(1, kT0 + 300ms);
  EXPECT_EQ(h.status(kT0 + 300ms).answered, 2U);
  EXPECT_DOUBLE_EQ(*h.status(kT0 + 300ms).rtt_ms, 100.0);
  // Answers to rounds never sent are ignored.
  EXPECT_FALSE(h.answer(77, kT0 + 300ms));
  EXPECT_EQ(h.status(kT0 + 300ms).answered, 2U);
}

TEST(UplinkHealth, SeveralTargets) {
  auto spec = one_target();
  spec.targets.push_back({ip("198.51.100.9"), 443});
  UplinkHealth h(spec, true, kT0);
  h.round_sent(kT0);
  h.answer(0, kT0 + 5ms);  // one target of the round is enough
  for (int i = 1; i <= 8; ++i) h.round_sent(kT0 + ms(100 * i));
  auto t = h.evaluate(kT0 + 805ms);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->reason, "no answer for 800 ms (8 rounds to 2 targets)");
  for (uint32_t r = 9; r < 19; ++r) h.round_sent(kT0 + r * 100ms);
  std::optional<Transition> up;
  for (uint32_t r = 9; r < 19; ++r) up = h.answer(r, kT0 + r * 100ms + 5ms);
  ASSERT_TRUE(up);
  EXPECT_EQ(up->reason, "10 rounds answered in a row");
}

TEST(UplinkHealth, ReconfigureKeepsStateAndRestartsHistoryOnProbeChanges) {
  Sim sim;
  sim.fate = [](uint32_t, Time) { return std::nullopt; };
  sim.run_for(2s);
  ASSERT_EQ(sim.health.state(), UplinkState::down);
  auto before = sim.status();

  // Same probing, other thresholds: nothing restarts.
  auto spec = one_target();
  spec.up_after = 3;
  EXPECT_FALSE(sim.health.reconfigure(spec, true, sim.now));
  auto same = sim.status();
  EXPECT_EQ(same.rounds, before.rounds);
  EXPECT_DOUBLE_EQ(same.loss, before.loss);

  // New targets: history restarts, state and counters stay.
  spec.targets = {{ip("192.0.2.1"), 0}};
  EXPECT_FALSE(sim.health.reconfigure(spec, true, sim.now));
  auto s = sim.status();
  EXPECT_EQ(s.state, UplinkState::down);
  EXPECT_EQ(s.transitions, 1U);
  EXPECT_EQ(s.reason, before.reason);
  EXPECT_EQ(s.last_change, before.last_change);
  EXPECT_EQ(s.rounds, before.rounds);
  EXPECT_DOUBLE_EQ(s.loss, 0.0);
  EXPECT_EQ(sim.health.spec().targets, spec.targets);

  // Probing turned off while down, with carrier: it follows the carrier.
  spec.targets.clear();
  auto t = sim.health.reconfigure(spec, true, sim.now);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, (Transition{UplinkState::up, "carrier up (no longer probed)"}));

  // A new device without carrier.
  spec.device = "wan9";
  t = sim.health.reconfigure(spec, false, sim.now);
  ASSERT_TRUE(t);
  EXPECT_EQ(*t, (Transition{UplinkState::down, "carrier lost"}));
}

TEST(UplinkHealth, RoundNumbersKeepGrowingAcrossReconfiguration) {
  UplinkHealth h(one_target(), true, kT0);
  EXPECT_EQ(h.round_sent(kT0), 0U);
  auto spec = one_target();
  spec.fwmark = 0x200;
  h.reconfigure(spec, true, kT0 + 50ms);
  EXPECT_EQ(h.round_sent(kT0 + 100ms), 1U);
  EXPECT_FALSE(h.answer(0, kT0 + 110ms));  // from before the restart: forgotten
  EXPECT_EQ(h.status(kT0 + 110ms).answered, 0U);
}

TEST(UplinkHealth, RoundSentWhileNotProbingIsABug) {
  UplinkHealth h(one_target(), false, kT0);
  EXPECT_THROW(h.round_sent(kT0), std::logic_error);
}

TEST(UplinkHealth, SkippedRoundsAreCountedApart) {
  UplinkHealth h(one_target(), true, kT0);
  h.rounds_skipped(3);
  auto s = h.status(kT0);
  EXPECT_EQ(s.skipped, 3U);
  EXPECT_EQ(s.rounds, 0U);
  EXPECT_DOUBLE_EQ(s.loss, 0.0);
}

TEST(UplinkHealth, StateNames) {
  EXPECT_EQ(to_string(UplinkState::up), "up");
  EXPECT_EQ(to_string(UplinkState::down), "down");
}

}  // namespace
}  // namespace vmgw::daemon
