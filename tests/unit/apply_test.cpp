#include "apply/apply.h"

#include <gtest/gtest.h>

#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "compile/compile.h"
#include "compile/routing_ids.h"
#include "fake_host.h"
#include "test_support.h"

namespace vmgw {
namespace {

using testing::FakeHost;
using testing::kSmallGateway;
using testing::valid_config;

TEST(Apply, FirstApplyBuildsEverythingSecondWritesNothing) {
  FakeHost host;
  auto plan = compile(valid_config(kSmallGateway));
  auto first = apply(plan, host.backends);
  EXPECT_TRUE(first.changed());
  EXPECT_EQ(host.nft.batches_applied, 1);
  EXPECT_EQ(host.sysctl.values["net/ipv4/ip_forward"], "1");
  EXPECT_EQ(host.dhcp.actions, std::vector<std::string>{"start vmnet"});

  const auto writes = host.rtnl.writes.size();
  const int sysctl_writes = host.sysctl.writes;  // ip_forward, multipath hashing, src_valid_mark
  EXPECT_EQ(sysctl_writes, 3);
  auto second = apply(plan, host.backends);
  EXPECT_FALSE(second.changed());
  EXPECT_EQ(second.summary(), "no changes: the kernel already holds this configuration");
  EXPECT_EQ(host.nft.batches_applied, 1);
  EXPECT_EQ(host.rtnl.writes.size(), writes);
  EXPECT_EQ(host.sysctl.writes, sysctl_writes);
}

TEST(Apply, CreatesBridgePlugsPortsAddsAddressesAndRoute) {
  FakeHost host;
  apply(compile(valid_config(kSmallGateway)), host.backends);
  const auto& w = host.rtnl.writes;
  auto has = [&](const std::string& line) {
    return std::find(w.begin(), w.end(), line) != w.end();
  };
  EXPECT_TRUE(has("create_bridge br-vm"));
  EXPECT_TRUE(has("set_master vnet-web br-vm"));
  EXPECT_TRUE(has("add_address br-vm 10.10.0.1/24"));
  EXPECT_TRUE(has("add_address wan0 203.0.113.17/32"));
  const std::string isp1 = std::to_string(1000 + routing::assign_slots({"isp1"}).at("isp1"));
  EXPECT_TRUE(has("replace_nexthop id " + isp1 + " via 203.0.113.1 dev wan0"));
  EXPECT_TRUE(has("replace_nexthop id 3000 group " + isp1));
  EXPECT_TRUE(has("replace_route 0.0.0.0/0 nhid 3000 metric 100 table 254"));
  EXPECT_TRUE(has("replace_route 0.0.0.0/0 nhid " + isp1 + " metric 0 table " + isp1));
  EXPECT_TRUE(has("add_rule 10000: from all lookup 254 suppress_prefixlength 0"));
}

TEST(Apply, UnboundElasticIpLeavesTheUplink) {
  FakeHost host;
  apply(compile(valid_config(kSmallGateway)), host.backends);
  std::string unbound = kSmallGateway;
  unbound.erase(unbound.find("  bindings:"));
  auto report = apply(compile(valid_config(unbound)), host.backends);
  const auto& w = host.rtnl.writes;
  EXPECT_EQ(w.back(), "delete_address wan0 203.0.113.17/32");
  EXPECT_EQ(report.nft.elements_removed, 3);  // eip_dnat, eip_snat and eip_uplink
}

TEST(Apply, MissingUplinkDeviceChangesNothing) {
  FakeHost host;
  host.rtnl.links_.erase(host.rtnl.links_.begin() + 1);  // no wan0
  EXPECT_THROW(apply(compile(valid_config(kSmallGateway)), host.backends), EnvironmentError);
  EXPECT_EQ(host.nft.batches_applied, 0);
  EXPECT_TRUE(host.rtnl.writes.empty());
  EXPECT_EQ(host.sysctl.writes, 0);
}

TEST(Apply, KernelRefusalChangesNothing) {
  FakeHost host;
  host.nft.fail_next_with = "Error: injected refusal";
  EXPECT_THROW(apply(compile(valid_config(kSmallGateway)), host.backends), backend::NftError);
  EXPECT_FALSE(host.nft.table.has_value());
  EXPECT_TRUE(host.rtnl.writes.empty());
  EXPECT_TRUE(host.dhcp.actions.empty());
}

TEST(Apply, ReservationChangeReloadsDhcp) {
  FakeHost host;
  apply(compile(valid_config(kSmallGateway)), host.backends);
  std::string more = kSmallGateway;
  more.insert(more.find("port_forwards:"),
              "  - {name: app, network: vmnet, mac: \"52:54:00:00:00:0c\", ip: 10.10.0.12}\n");
  auto report = apply(compile(valid_config(more)), host.backends);
  EXPECT_EQ(report.dhcp, std::vector<std::string>{"vmnet reloaded"});
}

// nf_conntrack_max is host-wide: raised to host.conntrack_max where the host's is lower, never
// lowered, and left alone where the kernel makes it read-only (a network namespace).
TEST(Apply, ConntrackMaxIsRaisedNeverLowered) {
  const std::string key = "net/netfilter/nf_conntrack_max";
  auto plan = compile(valid_config(kSmallGateway));
  {
    FakeHost host;
    host.sysctl.values[key] = "65536";
    apply(plan, host.backends);
    EXPECT_EQ(host.sysctl.values[key], "262144");
  }
  {
    FakeHost host;
    host.sysctl.values[key] = "1048576";
    auto report = apply(plan, host.backends);
    EXPECT_EQ(host.sysctl.values[key], "1048576");
    EXPECT_EQ(std::count(report.sysctl.begin(), report.sysctl.end(),
                         "net.netfilter.nf_conntrack_max = 262144"),
              0);
  }
  {
    FakeHost host;
    host.sysctl.values[key] = "65536";
    host.sysctl.read_only.insert(key);
    EXPECT_NO_THROW(apply(plan, host.backends));
    EXPECT_EQ(host.sysctl.values[key], "65536");
  }
  {
    FakeHost host;  // nf_conntrack not loaded: nothing to size
    apply(plan, host.backends);
    EXPECT_EQ(host.sysctl.values.count(key), 0U);
  }
}

TEST(Apply, ConntrackMaxZeroLeavesItToTheHost) {
  FakeHost host;
  const std::string key = "net/netfilter/nf_conntrack_max";
  host.sysctl.values[key] = "1024";
  std::string cfg = kSmallGateway;
  cfg += "host:\n  conntrack_max: 0\n";
  apply(compile(valid_config(cfg)), host.backends);
  EXPECT_EQ(host.sysctl.values[key], "1024");
}

TEST(Apply, PreviewWritesNothing) {
  FakeHost host;
  auto report = preview(compile(valid_config(kSmallGateway)), host.backends);
  EXPECT_TRUE(report.nft.created);
  EXPECT_FALSE(report.net.empty());
  EXPECT_EQ(host.nft.batches_applied, 0);
  EXPECT_TRUE(host.rtnl.writes.empty());
}

}  // namespace
}  // namespace vmgw
