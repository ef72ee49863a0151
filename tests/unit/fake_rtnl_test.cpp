#include "backend/fake_rtnl.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace vmgw::backend {
namespace {

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}
Cidr cidr(const char* s) {
  return *Cidr::parse(s);
}
AddressInfo addr(const char* dev, const char* a) {
  return AddressInfo{dev, *InterfaceAddress::parse(a)};
}

// Runs `f`, expecting an RtnlError with exactly `message`.
template <typename F>
void expect_error(F&& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no RtnlError, expected: " << message;
  } catch (const RtnlError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

class FakeRtnlTest : public ::testing::Test {
 protected:
  void SetUp() override { rtnl.add_link("wan0"); }
  FakeRtnl rtnl;
};

TEST_F(FakeRtnlTest, AddLinkAssignsIndexes) {
  rtnl.add_link("vnet0", "tap", false);
  auto links = rtnl.links();
  ASSERT_EQ(links.size(), 2U);
  EXPECT_EQ(links[0], (LinkInfo{"wan0", 1, "", 0, true, true}));  // up: with carrier
  EXPECT_EQ(links[1], (LinkInfo{"vnet0", 2, "tap", 0, false}));
  EXPECT_TRUE(rtnl.writes.empty());  // setup is not a write
}

TEST_F(FakeRtnlTest, CreateBridgeSetUpAndMaster) {
  rtnl.add_link("vnet0", "tap", true);
  rtnl.create_bridge("br0");
  const LinkInfo& br = rtnl.links_.back();
  EXPECT_EQ(br.name, "br0");
  EXPECT_EQ(br.kind, "bridge");
  EXPECT_FALSE(br.up);  // created down, like the kernel
  rtnl.set_up("br0");
  rtnl.set_master("vnet0", "br0");
  auto links = rtnl.links();
  EXPECT_TRUE(links[2].up);
  EXPECT_EQ(links[1].master, links[2].index);
  EXPECT_EQ(rtnl.writes,
            (std::vector<std::string>{"create_bridge br0", "set_up br0", "set_master vnet0 br0"}));
}

TEST_F(FakeRtnlTest, CreateExistingLinkIsRefused) {
  rtnl.create_bridge("br0");
  expect_error([&] { rtnl.create_bridge("br0"); }, "create bridge br0: File exists");
  expect_error([&] { rtnl.create_bridge("wan0"); }, "create bridge wan0: File exists");
  expect_error([&] { rtnl.create_bridge("averyveryverylongname"); },
               "create bridge averyveryverylongname: Numerical result out of range");
  EXPECT_EQ(rtnl.writes, std::vector<std::string>{"create_bridge br0"});
  EXPECT_EQ(rtnl.links().size(), 2U);
}

TEST_F(FakeRtnlTest, UnknownDeviceIsRefused) {
  expect_error([&] { rtnl.set_up("wan9"); }, "no such device 'wan9'");
  expect_error([&] { rtnl.set_master("wan9", "br0"); }, "no such device 'wan9'");
  expect_error([&] { rtnl.add_address(addr("wan9", "203.0.113.5/32")); }, "no such device 'wan9'");
  expect_error([&] { rtnl.delete_address(addr("wan9", "203.0.113.5/32")); },
               "no such device 'wan9'");
  expect_error(
      [&] {
        rtnl.replace_route({cidr("0.0.0.0/0"), ip("1.2.3.4"), "wan9", 0, 254});
      },
      "no such device 'wan9'");
  expect_error(
      [&] {
        rtnl.delete_route({cidr("0.0.0.0/0"), ip("1.2.3.4"), "wan9", 0, 254});
      },
      "no such device 'wan9'");
  EXPECT_TRUE(rtnl.writes.empty());
}

TEST_F(FakeRtnlTest, MasterMustBeABridgeAndPortNotABridge) {
  rtnl.add_link("eth1");
  rtnl.create_bridge("br0");
  rtnl.create_bridge("br1");
  expect_error([&] { rtnl.set_master("eth1", "wan0"); },
               "set master of eth1 to wan0: Operation not supported");
  expect_error([&] { rtnl.set_master("br1", "br0"); },
               "set master of br1 to br0: Too many levels of symbolic links");
}

TEST_F(FakeRtnlTest, AddAndDeleteAddress) {
  rtnl.add_address(addr("wan0", "203.0.113.5/32"));
  rtnl.add_address(addr("wan0", "203.0.113.6/32"));
  EXPECT_EQ(rtnl.addresses().size(), 2U);
  rtnl.delete_address(addr("wan0", "203.0.113.5/32"));
  EXPECT_EQ(rtnl.addresses(), std::vector<AddressInfo>{addr("wan0", "203.0.113.6/32")});
  EXPECT_EQ(rtnl.writes, (std::vector<std::string>{"add_address wan0 203.0.113.5/32",
                                                   "add_address wan0 203.0.113.6/32",
                                                   "delete_address wan0 203.0.113.5/32"}));
}

TEST_F(FakeRtnlTest, DuplicateAddressIsRefused) {
  rtnl.add_address(addr("wan0", "203.0.113.5/32"));
  expect_error([&] { rtnl.add_address(addr("wan0", "203.0.113.5/32")); },
               "add address 203.0.113.5/32 on wan0: File exists");
  EXPECT_EQ(rtnl.writes.size(), 1U);
  // Same address with another prefix length, or on another device, is a different address.
  rtnl.add_link("wan1");
  rtnl.add_address(addr("wan0", "203.0.113.5/24"));
  rtnl.add_address(addr("wan1", "203.0.113.5/32"));
  EXPECT_EQ(rtnl.addresses().size(), 3U);
}

TEST_F(FakeRtnlTest, DeletingMissingAddressIsRefused) {
  rtnl.add_address(addr("wan0", "203.0.113.5/24"));
  expect_error([&] { rtnl.delete_address(addr("wan0", "203.0.113.5/32")); },
               "delete address 203.0.113.5/32 on wan0: Cannot assign requested address");
  EXPECT_EQ(rtnl.addresses().size(), 1U);
}

TEST_F(FakeRtnlTest, SubnetAddressBringsPrefixRouteHostAddressDoesNot) {
  rtnl.add_address(addr("wan0", "203.0.113.5/32"));
  EXPECT_TRUE(rtnl.routes(254).empty());
  rtnl.add_address(addr("wan0", "203.0.113.2/24"));
  EXPECT_EQ(rtnl.routes(254),
            (std::vector<RouteInfo>{RouteInfo{cidr("203.0.113.0/24"), Ipv4{}, "wan0", 0, 254}}));
  EXPECT_TRUE(rtnl.routes(100).empty());
  rtnl.delete_address(addr("wan0", "203.0.113.2/24"));
  EXPECT_TRUE(rtnl.routes(254).empty());
  // Prefix routes are side effects, not writes.
  EXPECT_EQ(rtnl.writes.size(), 3U);
}

TEST_F(FakeRtnlTest, PrefixRouteAppearsWhenDeviceComesUp) {
  rtnl.create_bridge("br0");
  rtnl.add_address(addr("br0", "10.0.0.1/24"));
  EXPECT_TRUE(rtnl.routes(254).empty());  // down: no prefix route yet
  rtnl.set_up("br0");
  EXPECT_EQ(rtnl.routes(254),
            (std::vector<RouteInfo>{RouteInfo{cidr("10.0.0.0/24"), Ipv4{}, "br0", 0, 254}}));
}

TEST_F(FakeRtnlTest, ReplaceRouteNeedsReachableGateway) {
  RouteInfo def{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254};
  expect_error([&] { rtnl.replace_route(def); },
               "replace route 0.0.0.0/0 via 203.0.113.1 dev wan0 metric 100 table 254: "
               "Network is unreachable");
  rtnl.add_address(addr("wan0", "203.0.113.2/24"));
  rtnl.replace_route(def);
  EXPECT_EQ(rtnl.routes(254).back(), def);
  EXPECT_EQ(rtnl.writes.back(),
            "replace_route 0.0.0.0/0 via 203.0.113.1 dev wan0 metric 100 table 254");
}

TEST_F(FakeRtnlTest, RouteOnDownDeviceIsRefused) {
  rtnl.create_bridge("br0");
  expect_error(
      [&] {
        rtnl.replace_route({cidr("10.1.0.0/16"), Ipv4{}, "br0", 0, 254});
      },
      "replace route 10.1.0.0/16 dev br0 metric 0 table 254: Network is down");
}

TEST_F(FakeRtnlTest, ReplaceRouteReplacesSameDestinationMetricAndTable) {
  rtnl.add_address(addr("wan0", "203.0.113.2/24"));
  rtnl.replace_route({cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254});
  rtnl.replace_route({cidr("0.0.0.0/0"), ip("203.0.113.254"), "wan0", 100, 254});
  rtnl.replace_route({cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 200, 254});
  rtnl.replace_route({cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 100});
  auto main = rtnl.routes(254);
  ASSERT_EQ(main.size(), 3U);  // prefix route + metric 100 (replaced) + metric 200
  EXPECT_EQ(main[1], (RouteInfo{cidr("0.0.0.0/0"), ip("203.0.113.254"), "wan0", 100, 254}));
  EXPECT_EQ(main[2], (RouteInfo{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 200, 254}));
  EXPECT_EQ(rtnl.routes(100),
            (std::vector<RouteInfo>{{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 100}}));
}

TEST_F(FakeRtnlTest, DeleteRoute) {
  rtnl.add_address(addr("wan0", "203.0.113.2/24"));
  RouteInfo def{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254};
  rtnl.replace_route(def);
  RouteInfo other = def;
  other.metric = 101;
  expect_error([&] { rtnl.delete_route(other); },
               "delete route 0.0.0.0/0 via 203.0.113.1 dev wan0 metric 101 table 254: "
               "No such process");
  rtnl.delete_route(def);
  EXPECT_EQ(rtnl.routes(254).size(), 1U);  // the prefix route stays
  EXPECT_EQ(rtnl.writes.back(),
            "delete_route 0.0.0.0/0 via 203.0.113.1 dev wan0 metric 100 table 254");
}

TEST_F(FakeRtnlTest, DeletingLastAddressFlushesRoutesOfTheDevice) {
  rtnl.add_address(addr("wan0", "203.0.113.2/24"));
  rtnl.replace_route({cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254});
  rtnl.replace_route({cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 100});
  rtnl.delete_address(addr("wan0", "203.0.113.2/24"));
  EXPECT_TRUE(rtnl.routes(254).empty());
  EXPECT_TRUE(rtnl.routes(100).empty());
}

}  // namespace
}  // namespace vmgw::backend
