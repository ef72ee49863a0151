// `vmgw down` and the removals apply shares with it: only what carries vmgw's marks goes.
#include "apply/down.h"

#include <gtest/gtest.h>

#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "compile/compile.h"
#include "fake_host.h"
#include "test_support.h"

namespace vmgw {
namespace {

using testing::FakeHost;
using testing::kSmallGateway;
using testing::valid_config;

TEST(Down, RemovesTablesRoutingAddressesBridgesAndDhcpButNothingElse) {
  FakeHost host;
  // What the host had before vmgw: an address on the uplink, a bridge of its own with an
  // address, a route of another program.
  host.rtnl.add_address({"wan0", *InterfaceAddress::parse("198.51.100.7/24")});
  host.rtnl.addresses_.back().protocol = 0;
  host.rtnl.add_link("br-lan", "bridge");
  host.rtnl.add_address({"br-lan", *InterfaceAddress::parse("192.168.1.1/24")});
  host.rtnl.addresses_.back().protocol = 0;
  backend::RouteInfo theirs{*Cidr::parse("10.99.0.0/16"), *Ipv4::parse("198.51.100.1"), "wan0"};
  theirs.protocol = 4;
  host.rtnl.routes_.push_back(theirs);
  apply(compile(valid_config(kSmallGateway)), host.backends);
  ASSERT_TRUE(host.nft.read_table("inet", "vmgw"));
  ASSERT_TRUE(host.has_link("br-vm"));
  ASSERT_TRUE(host.has_address("wan0", "203.0.113.17/32"));

  auto preview = preview_down(host.backends);
  EXPECT_EQ(preview.tables, (std::vector<std::string>{"inet vmgw", "bridge vmgw"}));
  const auto writes = host.rtnl.writes.size();
  ASSERT_TRUE(host.nft.read_table("inet", "vmgw")) << "the preview wrote nothing";
  EXPECT_EQ(host.rtnl.writes.size(), writes);

  auto report = take_down(host.backends);
  EXPECT_EQ(report.net, preview.net);
  EXPECT_FALSE(host.nft.read_table("inet", "vmgw"));
  EXPECT_FALSE(host.nft.read_table("bridge", "vmgw"));
  EXPECT_FALSE(host.has_link("br-vm"));  // vmgw created it
  EXPECT_FALSE(host.has_address("wan0", "203.0.113.17/32"));
  EXPECT_FALSE(host.has_address("wan0", "203.0.113.2/24"));  // vmgw added it, too
  EXPECT_TRUE(host.has_address("wan0", "198.51.100.7/24"));
  EXPECT_TRUE(host.has_link("br-lan"));
  EXPECT_TRUE(host.has_address("br-lan", "192.168.1.1/24"));
  EXPECT_TRUE(host.has_link("vnet-web"));  // a VM's port is released, never deleted
  for (const auto& r : host.rtnl.routes_) EXPECT_NE(r.protocol, backend::kVmgwProtocol);
  EXPECT_TRUE(host.rtnl.rules_.empty());
  EXPECT_TRUE(host.rtnl.nexthops_.empty());
  EXPECT_NE(std::find(host.rtnl.routes_.begin(), host.rtnl.routes_.end(), theirs),
            host.rtnl.routes_.end());
  EXPECT_EQ(report.dhcp, std::vector<std::string>{"vmnet"});
  EXPECT_EQ(host.sysctl.values["net/ipv4/ip_forward"], "1");  // sysctls stay

  auto again = take_down(host.backends);
  EXPECT_FALSE(again.changed());
  EXPECT_EQ(again.summary(), "nothing to remove: vmgw holds nothing on this host");
}

TEST(Down, AnAddressVmgwPlannedButDidNotAddStays) {
  FakeHost host;
  host.rtnl.add_address({"wan0", *InterfaceAddress::parse("203.0.113.2/24")});
  host.rtnl.addresses_.back().protocol = 0;  // the host's own configuration added it
  apply(compile(valid_config(kSmallGateway)), host.backends);
  take_down(host.backends);
  EXPECT_TRUE(host.has_address("wan0", "203.0.113.2/24"));
}

TEST(Apply, ANetworkTakenOutOfTheFileTakesItsBridgeAndAddressWithIt) {
  FakeHost host;
  apply(compile(valid_config(kSmallGateway)), host.backends);
  ASSERT_TRUE(host.has_address("br-vm", "10.10.0.1/24"));
  auto report = apply(compile(valid_config(R"(
uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.3/24, gateway: 203.0.113.1}
)")),
                      host.backends);
  EXPECT_FALSE(host.has_link("br-vm"));
  EXPECT_FALSE(host.has_address("wan0", "203.0.113.2/24"));  // the uplink's address changed
  EXPECT_TRUE(host.has_address("wan0", "203.0.113.3/24"));
  EXPECT_NE(std::find(report.net.begin(), report.net.end(), "remove bridge br-vm"),
            report.net.end());
  EXPECT_TRUE(host.has_link("vnet-web"));
}

TEST(Apply, ABridgeTheHostHadIsNeverRemoved) {
  FakeHost host;
  host.rtnl.add_link("br-vm", "bridge");  // made by the host's network configuration
  apply(compile(valid_config(kSmallGateway)), host.backends);
  apply(compile(valid_config("uplinks: []\n")), host.backends);
  EXPECT_TRUE(host.has_link("br-vm"));
  take_down(host.backends);
  EXPECT_TRUE(host.has_link("br-vm"));
}

}  // namespace
}  // namespace vmgw
