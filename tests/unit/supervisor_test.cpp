#include "daemon/supervisor.h"

#include <gtest/gtest.h>

namespace vmgw::daemon {
namespace {

using namespace std::chrono_literals;

// A DHCP backend whose server can be "killed" and can refuse to start.
struct FlakyDhcp : backend::FakeDhcp {
  int refuse_starts = 0;
  std::string ensure(const DhcpServer& s) override {
    if (refuse_starts > 0) {
      --refuse_starts;
      throw std::runtime_error("dnsmasq failed to start: address in use");
    }
    return FakeDhcp::ensure(s);
  }
  void kill(const std::string& net) {
    std::erase_if(servers, [&](const auto& x) { return x.first == net; });
  }
};

DhcpServer server(const std::string& net) {
  return {net, "br-" + net, *Cidr::parse("10.0.0.0/24"), *Ipv4::parse("10.0.0.1"), {}, {}};
}

// dnsmasq's --log-dhcp log grows about 3 KB per exchange: past the bound it is trimmed, and
// the daemon log says so.
TEST(DhcpSupervisor, TrimsTheLogOfARunningServerPastItsBound) {
  FlakyDhcp dhcp;
  std::vector<std::string> log;
  DhcpSupervisor sup(dhcp, [&](const std::string& m) { log.push_back(m); });
  auto t = DhcpSupervisor::Clock::now();
  dhcp.ensure(server("a"));
  dhcp.log_bytes["a"] = backend::kMaxDhcpLogBytes;
  sup.tick({server("a")}, t);
  EXPECT_TRUE(log.empty());
  dhcp.log_bytes["a"] = backend::kMaxDhcpLogBytes + 1;
  sup.tick({server("a")}, t + 1s);
  EXPECT_EQ(dhcp.log_bytes["a"], 0u);
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("dnsmasq log of network a moved to its .1 file"), std::string::npos);
}

TEST(DhcpSupervisor, RestartsADeadServer) {
  FlakyDhcp dhcp;
  std::vector<std::string> log;
  DhcpSupervisor sup(dhcp, [&](const std::string& m) { log.push_back(m); });
  auto t = DhcpSupervisor::Clock::now();
  dhcp.ensure(server("a"));
  sup.tick({server("a")}, t);
  EXPECT_EQ(sup.restarts(), 0u);
  dhcp.kill("a");
  sup.tick({server("a")}, t + 1s);
  EXPECT_TRUE(dhcp.running("a"));
  EXPECT_EQ(sup.restarts(), 1u);
  EXPECT_EQ(sup.state().at("a"), "running");
  ASSERT_EQ(log.size(), 1u);
  EXPECT_NE(log[0].find("started it again"), std::string::npos);
}

TEST(DhcpSupervisor, BacksOffWhileAServerCannotStart) {
  FlakyDhcp dhcp;
  DhcpSupervisor sup(dhcp, [](const std::string&) {});
  dhcp.refuse_starts = 100;
  auto t = DhcpSupervisor::Clock::now();
  int attempts = 0;
  // Over 60 simulated seconds, tries happen after 1, 2, 4, 8, 16, 30 s gaps: not every second.
  for (int s = 0; s <= 60; ++s) {
    auto before = sup.restarts();
    sup.tick({server("a")}, t + std::chrono::seconds(s));
    attempts += static_cast<int>(sup.restarts() - before);
  }
  EXPECT_GE(attempts, 5);
  EXPECT_LE(attempts, 7);
  EXPECT_EQ(sup.state().at("a"), "restarting");
}

TEST(DhcpSupervisor, ForgetsNetworksNoLongerPlanned) {
  FlakyDhcp dhcp;
  DhcpSupervisor sup(dhcp, [](const std::string&) {});
  auto t = DhcpSupervisor::Clock::now();
  sup.tick({server("a"), server("b")}, t);
  EXPECT_EQ(sup.state().size(), 2u);
  sup.tick({server("b")}, t + 1s);
  EXPECT_EQ(sup.state().size(), 1u);
}

}  // namespace
}  // namespace vmgw::daemon
