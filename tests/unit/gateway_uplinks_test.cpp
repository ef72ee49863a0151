// The Gateway following uplink health over fakes: the groups change, the flows pinned to an
// uplink taken out are cut (and only those), failback `immediate` cuts a network's flows on the
// backup when the primary returns while `defer` leaves them, and a daemon start takes the links'
// carrier as the first word on health.
#include <gtest/gtest.h>

#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "compile/routing_ids.h"
#include "daemon/gateway.h"
#include "fake_gateway.h"
#include "model/load.h"

namespace vmgw::daemon {
namespace {

const char* kTopology = R"(
uplinks:
  - {name: dsl, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1, tier: 1}
  - {name: cable, device: wan1, address: 198.51.100.2/24, gateway: 198.51.100.1, tier: 2}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, masquerade: [dsl, cable], failback: FAILBACK}
  - {name: lan, bridge: lan0, subnet: 192.168.50.0/24, gateway: 192.168.50.1, masquerade: [dsl, cable]}
)";

Config topology(const std::string& failback) {
  std::string text = kTopology;
  text.replace(text.find("FAILBACK"), 8, failback);
  auto r = load_config(text, "vmgw.yaml");
  return std::get<Validated<Config>>(std::move(r)).get();
}

uint32_t mark(const std::string& uplink) {
  return routing::mark_of(routing::assign_slots({"dsl", "cable"}).at(uplink));
}

backend::ConntrackFlow flow(const char* src, uint16_t sport, uint32_t mark) {
  backend::ConntrackFlow f;
  f.proto = 6;
  f.orig_src = *Ipv4::parse(src);
  f.orig_dst = *Ipv4::parse("192.0.2.80");
  f.orig_sport = sport;
  f.orig_dport = 443;
  f.mark = mark | 0x1;  // a bit outside vmgw's field, which must not matter
  return f;
}

struct GatewayUplinks : ::testing::Test, vmgw::testing::FakeGatewayHost {
  std::unique_ptr<Gateway> gw;

  void start(const std::string& failback) {
    rtnl.add_link("wan0", "veth");
    rtnl.add_link("wan1", "veth");
    rtnl.add_link("lan0", "veth");
    gw = std::make_unique<Gateway>(topology(failback), deps());
    gw->start();
  }
  std::vector<std::string> active(const std::string& network) {
    for (const auto& p : gw->plan_base().paths)
      if (p.network == network) return p.active;
    return {};
  }
};

using Names = std::vector<std::string>;

TEST_F(GatewayUplinks, AnUplinkTakenOutLosesItsFlowsAndOnlyThose) {
  start("defer");
  EXPECT_EQ(active("vmnet"), Names{"dsl"});
  conntrack.flows = {flow("10.10.0.5", 1000, mark("dsl")), flow("10.10.0.6", 1001, mark("cable")),
                     flow("192.168.50.7", 1002, mark("dsl")), flow("10.10.0.8", 1003, 0)};
  auto change = gw->set_uplink_health({{"dsl", {true, false}}, {"cable", {true, true}}});
  EXPECT_EQ(active("vmnet"), Names{"cable"});
  EXPECT_EQ(change.flows_cut, 2U);
  ASSERT_EQ(conntrack.flows.size(), 2U);
  EXPECT_EQ(conntrack.flows[0].orig_sport, 1001);
  EXPECT_EQ(conntrack.flows[1].orig_sport, 1003);
  EXPECT_NE(std::find(change.events.begin(), change.events.end(),
                      "uplink dsl taken out: 2 flows through it cut"),
            change.events.end());
  // Nothing is stored: health is measured, not declared.
  EXPECT_EQ(store->load().generation, 0U);
}

TEST_F(GatewayUplinks, DeferKeepsFlowsOnTheBackupWhenThePrimaryReturns) {
  start("defer");
  gw->set_uplink_health({{"dsl", {false, false}}, {"cable", {true, true}}});
  conntrack.flows = {flow("10.10.0.5", 1000, mark("cable"))};
  auto back = gw->set_uplink_health({{"dsl", {true, true}}, {"cable", {true, true}}});
  EXPECT_EQ(active("vmnet"), Names{"dsl"});  // new flows go back to the primary
  EXPECT_EQ(back.flows_cut, 0U);
  EXPECT_EQ(conntrack.flows.size(), 1U);
}

TEST_F(GatewayUplinks, ImmediateCutsTheNetworksFlowsOnTheBackup) {
  start("immediate");
  gw->set_uplink_health({{"dsl", {false, false}}, {"cable", {true, true}}});
  conntrack.flows = {flow("10.10.0.5", 1000, mark("cable")),
                     flow("192.168.50.7", 1001, mark("cable"))};  // lan defers
  auto back = gw->set_uplink_health({{"dsl", {true, true}}, {"cable", {true, true}}});
  EXPECT_EQ(back.flows_cut, 1U);
  ASSERT_EQ(conntrack.flows.size(), 1U);
  EXPECT_EQ(conntrack.flows[0].orig_src.str(), "192.168.50.7");
}

TEST_F(GatewayUplinks, TheLastUplinkStaysInUseAndKeepsItsFlows) {
  start("defer");
  gw->set_uplink_health({{"dsl", {false, false}}, {"cable", {true, true}}});
  conntrack.flows = {flow("10.10.0.5", 1000, mark("cable"))};
  auto silent = gw->set_uplink_health({{"dsl", {false, false}}, {"cable", {true, false}}});
  EXPECT_EQ(active("vmnet"), Names{"cable"});
  EXPECT_EQ(silent.flows_cut, 0U);
}

TEST_F(GatewayUplinks, StartTakesCarrierFromTheLinks) {
  rtnl.add_link("wan0", "veth");
  rtnl.add_link("wan1", "veth");
  rtnl.add_link("lan0", "veth");
  rtnl.set_carrier("wan0", false);
  gw = std::make_unique<Gateway>(topology("defer"), deps());
  EXPECT_NO_THROW(gw->start());
  EXPECT_EQ(active("vmnet"), Names{"cable"});
  EXPECT_FALSE(gw->uplink_health().at("dsl").carrier);
}

TEST_F(GatewayUplinks, DscpRulesNamingVmsAreRefusedInTheDaemonsTopology) {
  Config c = topology("defer");
  c.dscp.push_back(DscpRule{});
  c.dscp.back().vm = "web";
  try {
    Gateway::check_topology(c);
    FAIL() << "accepted";
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.errors.front().first, "dscp[0].vm");
  }
}

}  // namespace
}  // namespace vmgw::daemon
