#include "daemon/uplink_monitor.h"

#include <gtest/gtest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmgw::daemon {
namespace {

using namespace std::chrono_literals;
using ms = std::chrono::milliseconds;
using Time = ProbeClock::time_point;
using Change = UplinkMonitor::Change;
using backend::ProbeDestination;

const Time kT0{std::chrono::hours(1)};

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}

UplinkProbeSpec uplink(const std::string& name, const std::string& device,
                       std::vector<ProbeTarget> targets, ms interval = 100ms) {
  UplinkProbeSpec s;
  s.name = name;
  s.device = device;
  s.source = ip("203.0.113.2");
  s.fwmark = 0x100;
  s.targets = std::move(targets);
  s.interval = interval;
  return s;
}

const ProbeTarget kPing{ip("198.51.100.1"), 0};
const ProbeTarget kHttps{ip("198.51.100.2"), 443};

class UplinkMonitorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    links.preset("wan0", true);
    links.preset("wan1", true);
    links.preset("wan2", false);
  }

  // The rounds sent for `name`, as (time since kT0, round number).
  std::vector<std::pair<ms, uint32_t>> rounds_of(const std::string& name) const {
    std::vector<std::pair<ms, uint32_t>> out;
    for (const auto& s : prober.sent)
      if (s.uplink == name) out.emplace_back(std::chrono::duration_cast<ms>(s.at - kT0), s.round);
    return out;
  }

  // Calls poll() at every deadline (the way the daemon's loop does) until `end`, collecting the
  // changes with their times.
  std::vector<std::pair<Time, Change>> run_until(Time end, Time from) {
    std::vector<std::pair<Time, Change>> out;
    Time now = from;
    for (;;) {
      Time next = monitor.next_deadline();
      if (next > end) break;
      now = std::max(now, next);
      for (auto& c : monitor.poll({}, now)) out.emplace_back(now, c);
    }
    return out;
  }

  // Calls poll() every `tick` from `from` to `end`: a loop that also wakes up for answers.
  std::vector<std::pair<Time, Change>> poll_every(ms tick, Time from, Time end) {
    std::vector<std::pair<Time, Change>> out;
    for (Time now = from; now <= end; now += tick)
      for (auto& c : monitor.poll({}, now)) out.emplace_back(now, c);
    return out;
  }

  backend::FakeProber prober;
  backend::FakeLinkWatch links;
  UplinkMonitor monitor{prober, links};
};

TEST_F(UplinkMonitorTest, ConfigureReportsTheFirstStatesAndConfiguresTheSockets) {
  auto changes =
      monitor.configure({uplink("isp2", "wan1", {kPing}), uplink("isp1", "wan0", {kPing}),
                         uplink("isp3", "wan2", {kPing}), uplink("isp4", "gone0", {})},
                        kT0);
  EXPECT_EQ(changes, (std::vector<Change>{{"isp1", UplinkState::up, "carrier at start"},
                                          {"isp2", UplinkState::up, "carrier at start"},
                                          {"isp3", UplinkState::down, "no carrier at start"},
                                          {"isp4", UplinkState::down, "no carrier at start"}}));
  ASSERT_EQ(prober.uplinks.size(), 4U);
  EXPECT_EQ(prober.uplinks[0],
            (backend::ProbeUplink{"isp1", "wan0", ip("203.0.113.2"), 0x100, 1600ms}));
  auto status = monitor.status();
  ASSERT_EQ(status.size(), 4U);
  EXPECT_EQ(status[0].name, "isp1");
  EXPECT_EQ(status[3].name, "isp4");
  EXPECT_EQ(status[2].last_change, kT0);
  EXPECT_EQ(monitor.fds(), (std::vector<int>{prober.fd, links.fake_fd}));
}

TEST_F(UplinkMonitorTest, RoundsGoOutOnScheduleToEveryTarget) {
  monitor.configure({uplink("isp1", "wan0", {kPing, kHttps}),
                     uplink("isp2", "wan1", {kPing}, 250ms), uplink("isp3", "wan2", {kPing})},
                    kT0);
  EXPECT_EQ(monitor.next_deadline(), kT0);  // the first rounds at once
  run_until(kT0 + 999ms, kT0);
  EXPECT_EQ(rounds_of("isp1"), (std::vector<std::pair<ms, uint32_t>>{{0ms, 0},
                                                                     {100ms, 1},
                                                                     {200ms, 2},
                                                                     {300ms, 3},
                                                                     {400ms, 4},
                                                                     {500ms, 5},
                                                                     {600ms, 6},
                                                                     {700ms, 7},
                                                                     {800ms, 8},
                                                                     {900ms, 9}}));
  EXPECT_EQ(rounds_of("isp2"),
            (std::vector<std::pair<ms, uint32_t>>{{0ms, 0}, {250ms, 1}, {500ms, 2}, {750ms, 3}}));
  EXPECT_TRUE(rounds_of("isp3").empty());  // no carrier, no probes
  for (const auto& s : prober.sent) {
    if (s.uplink == "isp1") {
      EXPECT_EQ(s.to, (std::vector<ProbeDestination>{{kPing.address, 0}, {kHttps.address, 443}}));
    }
  }
  EXPECT_EQ(monitor.next_deadline(), kT0 + 1000ms);
}

TEST_F(UplinkMonitorTest, ALatePollSendsOneRoundAndSkipsTheMissedOnes) {
  monitor.configure({uplink("isp1", "wan0", {kPing})}, kT0);
  monitor.poll({}, kT0);
  monitor.poll({}, kT0 + 1050ms);  // the loop was busy: 10 slots were due
  EXPECT_EQ(rounds_of("isp1"), (std::vector<std::pair<ms, uint32_t>>{{0ms, 0}, {1050ms, 1}}));
  EXPECT_EQ(monitor.next_deadline(), kT0 + 1100ms);  // back on the grid
  auto s = monitor.status()[0];
  EXPECT_EQ(s.rounds, 2U);
  EXPECT_EQ(s.skipped, 9U);
  // Two rounds without an answer, though 1050 ms without one: not down (no evidence).
  EXPECT_EQ(s.state, UplinkState::up);
}

TEST_F(UplinkMonitorTest, ADeadUplinkIsDownWithinASecondAndBackAfterTenRounds) {
  bool dead = false;
  prober.responder = [&](const backend::FakeProber::Sent&,
                         const ProbeDestination&) -> std::optional<ms> {
    if (dead) return std::nullopt;
    return 20ms;
  };
  monitor.configure({uplink("isp1", "wan0", {kPing, kHttps})}, kT0);
  EXPECT_TRUE(poll_every(10ms, kT0, kT0 + 2999ms).empty());
  dead = true;  // the rounds from 3.0 s on are lost
  auto changes = poll_every(10ms, kT0 + 3s, kT0 + 5999ms);
  ASSERT_EQ(changes.size(), 1U);
  // The last answer came at 2.92 s: down at 3.72 s, 720 ms after the first lost round.
  EXPECT_EQ(changes[0].first, kT0 + 3720ms);
  EXPECT_EQ(changes[0].second,
            (Change{"isp1", UplinkState::down, "no answer for 800 ms (8 rounds to 2 targets)"}));
  dead = false;  // rounds from 6.0 s on are answered: up at the 10th answer
  changes = poll_every(10ms, kT0 + 6s, kT0 + 8s);
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].first, kT0 + 6920ms);
  EXPECT_EQ(changes[0].second, (Change{"isp1", UplinkState::up, "10 rounds answered in a row"}));
  auto st = monitor.status()[0];
  EXPECT_EQ(st.transitions, 2U);
  EXPECT_DOUBLE_EQ(*st.rtt_ms, 20.0);
  EXPECT_EQ(st.rounds, 81U);
}

TEST_F(UplinkMonitorTest, CarrierLossIsImmediateAndCarrierBackProbesAtOnce) {
  monitor.configure({uplink("isp1", "wan0", {kPing}), uplink("isp2", "wan1", {})}, kT0);
  monitor.poll({}, kT0);
  links.set("wan0", false);
  // Not read while the link watch's fd is not ready.
  EXPECT_TRUE(monitor.poll({}, kT0 + 10ms).empty());
  EXPECT_EQ(monitor.poll({links.fake_fd}, kT0 + 20ms),
            (std::vector<Change>{{"isp1", UplinkState::down, "carrier lost"}}));
  monitor.poll({}, kT0 + 1s);
  EXPECT_EQ(rounds_of("isp1").size(), 1U);  // no probes without carrier
  links.set("wan0", true);
  links.set("wan1", false);
  EXPECT_EQ(monitor.poll({links.fake_fd}, kT0 + 1010ms),
            (std::vector<Change>{{"isp2", UplinkState::down, "carrier lost"}}));
  EXPECT_EQ(rounds_of("isp1").back(), (std::pair<ms, uint32_t>{1010ms, 1}));
  EXPECT_EQ(monitor.next_deadline(), kT0 + 1110ms);
  EXPECT_EQ(monitor.status()[0].skipped, 0U);  // the time without carrier is not skipped rounds
  links.set("wan1", true);
  EXPECT_EQ(monitor.poll({links.fake_fd}, kT0 + 1020ms),
            (std::vector<Change>{{"isp2", UplinkState::up, "carrier back (not probed)"}}));
}

// One poll with a carrier change, an answer and a silence: the changes come in that order,
// whatever the names.
TEST_F(UplinkMonitorTest, ChangesComeInOrderCarrierAnswersSilence) {
  auto a = uplink("a", "wan0", {kPing});
  a.down_after = 1;
  auto c = uplink("c", "wan2", {kPing});
  c.up_after = 1;
  monitor.configure({a, uplink("b", "wan1", {}), c}, kT0);
  monitor.poll({}, kT0);  // a: round 0
  links.set("wan2", true);
  monitor.poll({links.fake_fd}, kT0 + 50ms);  // c: probing, round 0
  ASSERT_EQ(rounds_of("c").size(), 1U);
  prober.answer({"c", 0, kPing.address, 0, kT0 + 100ms});
  links.set("wan1", false);
  EXPECT_EQ(monitor.poll({links.fake_fd}, kT0 + 100ms),
            (std::vector<Change>{{"b", UplinkState::down, "carrier lost"},
                                 {"c", UplinkState::up, "1 probe answered in a row"},
                                 {"a", UplinkState::down, "no answer for 100 ms (2 probes)"}}));
}

TEST_F(UplinkMonitorTest, ReconfigureKeepsStateDropsRemovedAddsNew) {
  monitor.configure({uplink("isp1", "wan0", {kPing}), uplink("isp2", "wan1", {kPing})}, kT0);
  auto changes = run_until(kT0 + 2s, kT0);  // no answers at all
  ASSERT_EQ(changes.size(), 2U);
  auto before = monitor.status()[0];
  ASSERT_EQ(before.state, UplinkState::down);
  Time deadline = monitor.next_deadline();

  auto added = monitor.configure(
      {uplink("isp1", "wan0", {kPing}), uplink("isp5", "wan1", {kHttps})}, kT0 + 2s + 10ms);
  EXPECT_EQ(added, (std::vector<Change>{{"isp5", UplinkState::up, "carrier at start"}}));
  auto status = monitor.status();
  ASSERT_EQ(status.size(), 2U);
  EXPECT_EQ(status[0].name, "isp1");
  EXPECT_EQ(status[0].state, UplinkState::down);
  EXPECT_EQ(status[0].transitions, before.transitions);
  EXPECT_EQ(status[0].rounds, before.rounds);
  EXPECT_EQ(status[0].reason, before.reason);
  EXPECT_EQ(status[1].name, "isp5");
  EXPECT_EQ(prober.configures, 2);
  ASSERT_EQ(prober.uplinks.size(), 2U);
  EXPECT_EQ(prober.uplinks[1].name, "isp5");
  // isp1's schedule goes on; isp5 probes at once.
  EXPECT_EQ(monitor.next_deadline(), kT0 + 2s + 10ms);
  monitor.poll({}, kT0 + 2s + 10ms);
  EXPECT_EQ(monitor.next_deadline(), deadline);

  // New targets for isp1: its history restarts (and its rounds at once), its state stays.
  auto moved = uplink("isp1", "wan0", {kHttps});
  EXPECT_TRUE(
      monitor.configure({moved, uplink("isp5", "wan1", {kHttps})}, kT0 + 2s + 50ms).empty());
  EXPECT_EQ(monitor.next_deadline(), kT0 + 2s + 50ms);
  EXPECT_EQ(monitor.status()[0].state, UplinkState::down);
  EXPECT_DOUBLE_EQ(monitor.status()[0].loss, 0.0);
}

TEST_F(UplinkMonitorTest, ARefusedConfigurationChangesNothing) {
  monitor.configure({uplink("isp1", "wan0", {kPing})}, kT0);
  EXPECT_THROW(
      monitor.configure({uplink("isp2", "wan0", {kPing}), uplink("isp2", "wan1", {})}, kT0),
      std::invalid_argument);
  auto bad = uplink("isp3", "wan0", {kPing});
  bad.down_after = 0;
  EXPECT_THROW(monitor.configure({bad}, kT0), std::invalid_argument);
  ASSERT_EQ(monitor.status().size(), 1U);
  EXPECT_EQ(monitor.status()[0].name, "isp1");
  EXPECT_EQ(prober.configures, 1);
}

TEST_F(UplinkMonitorTest, AnswersOfUnknownUplinksAndRoundsAreIgnored) {
  monitor.configure({uplink("isp1", "wan0", {kPing})}, kT0);
  monitor.poll({}, kT0);
  prober.answer({"nosuch", 0, kPing.address, 0, kT0 + 5ms});
  prober.answer({"isp1", 42, kPing.address, 0, kT0 + 5ms});
  EXPECT_TRUE(monitor.poll({}, kT0 + 10ms).empty());
  EXPECT_EQ(monitor.status()[0].answered, 0U);
}

TEST_F(UplinkMonitorTest, StatusCarriesTheProbersSendError) {
  monitor.configure({uplink("isp1", "wan0", {kPing})}, kT0);
  prober.errors["isp1"] = "bind to 203.0.113.2: Cannot assign requested address";
  EXPECT_EQ(monitor.status()[0].probe_error, prober.errors["isp1"]);
}

TEST_F(UplinkMonitorTest, NothingScheduledWithoutProbing) {
  monitor.configure({uplink("isp1", "wan0", {}), uplink("isp3", "wan2", {kPing})}, kT0);
  EXPECT_EQ(monitor.next_deadline(), Time::max());
  EXPECT_TRUE(monitor.poll({}, kT0 + 1h).empty());
  EXPECT_TRUE(prober.sent.empty());
}

}  // namespace
}  // namespace vmgw::daemon
