#include <gtest/gtest.h>

#include "backend/prober.h"

namespace vmgw::backend {
namespace {

using namespace std::chrono_literals;
const ProbeTime kT0{std::chrono::hours(1)};
const Ipv4 kTarget{0xc6336401};  // 198.51.100.1

TEST(FakeProber, RecordsRoundsAndHandsOutAnswersWhenDue) {
  FakeProber p;
  p.configure({{"isp1", "wan0", Ipv4{}, 0, 1600ms}});
  p.responder = [](const FakeProber::Sent& s,
                   const ProbeDestination& d) -> std::optional<std::chrono::milliseconds> {
    if (d.tcp_port != 0) return std::nullopt;  // TCP probes lost
    return s.round == 0 ? 300ms : 10ms;
  };
  p.send_round("isp1", 0, {{kTarget, 0}, {kTarget, 443}}, kT0);
  p.send_round("isp1", 1, {{kTarget, 0}}, kT0 + 100ms);
  ASSERT_EQ(p.sent.size(), 2U);
  EXPECT_EQ(p.sent[0].to.size(), 2U);
  EXPECT_TRUE(p.read_ready(kT0 + 100ms).empty());
  auto got = p.read_ready(kT0 + 1s);
  ASSERT_EQ(got.size(), 2U);  // in order of arrival: round 1 (at 110 ms) before round 0 (300 ms)
  EXPECT_EQ(got[0], (ProbeAnswer{"isp1", 1, kTarget, 0, kT0 + 110ms}));
  EXPECT_EQ(got[1], (ProbeAnswer{"isp1", 0, kTarget, 0, kT0 + 300ms}));
  EXPECT_TRUE(p.read_ready(kT0 + 2s).empty());
}

TEST(FakeProber, ARemovedUplinksAnswersAreGone) {
  FakeProber p;
  p.configure({{"isp1", "wan0", Ipv4{}, 0, 1600ms}});
  p.answer({"isp1", 0, kTarget, 0, kT0});
  p.configure({});
  EXPECT_TRUE(p.read_ready(kT0 + 1s).empty());
  EXPECT_EQ(p.configures, 2);
  EXPECT_EQ(p.send_error("isp1"), "");
}

}  // namespace
}  // namespace vmgw::backend
