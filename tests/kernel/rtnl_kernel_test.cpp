// MnlRtnl against the real kernel, inside the private network namespace set up by main.cpp.
// Some tests also pin down kernel behaviour that FakeRtnl imitates (prefix routes, route flushes,
// refusals), so that the fake stays honest.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <linux/veth.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "backend/rtnl.h"
#include "backend/rtnl_messages.h"
#include "support.h"

namespace vmgw::backend {
namespace {

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}
Cidr cidr(const char* s) {
  return *Cidr::parse(s);
}
AddressInfo addr(const std::string& dev, const char* a) {
  return AddressInfo{dev, *InterfaceAddress::parse(a)};
}

// Raw rtnetlink for what the product does not do (veth pairs, deleting links, reading flags).
class RawNetlink {
 public:
  RawNetlink() {
    nl_ = mnl_socket_open(NETLINK_ROUTE);
    if (nl_ == nullptr || mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0)
      throw std::runtime_error(std::string("raw netlink: ") + std::strerror(errno));
    portid_ = mnl_socket_get_portid(nl_);
  }
  ~RawNetlink() { mnl_socket_close(nl_); }
  RawNetlink(const RawNetlink&) = delete;
  RawNetlink& operator=(const RawNetlink&) = delete;

  // Starts a request in the internal buffer.
  nlmsghdr* start(uint16_t type, uint16_t flags) {
    buf_.fill(0);
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf_.data());
    nlh->nlmsg_type = type;
    nlh->nlmsg_flags = NLM_F_REQUEST | flags;
    nlh->nlmsg_seq = ++seq_;
    return nlh;
  }

  // Sends the request and runs `cb` on every reply; returns 0 or the errno of the refusal.
  int run(nlmsghdr* nlh, mnl_cb_t cb = nullptr, void* data = nullptr) {
    if (mnl_socket_sendto(nl_, nlh, nlh->nlmsg_len) < 0) return errno;
    std::vector<uint8_t> rx(size_t{64} * 1024);
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(nl_, rx.data(), rx.size());
      if (n < 0) return errno;
      int ret = mnl_cb_run(rx.data(), static_cast<size_t>(n), nlh->nlmsg_seq, portid_, cb, data);
      if (ret == MNL_CB_STOP) return 0;
      if (ret == MNL_CB_ERROR) return errno;
    }
  }

  int create_veth(const std::string& name, const std::string& peer) {
    nlmsghdr* nlh = start(RTM_NEWLINK, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL);
    mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg));
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    nlattr* linkinfo = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
    mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "veth");
    nlattr* data = mnl_attr_nest_start(nlh, IFLA_INFO_DATA);
    nlattr* peer_attr = mnl_attr_nest_start(nlh, VETH_INFO_PEER);
    mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg));  // the peer's (empty) ifinfomsg
    mnl_attr_put_strz(nlh, IFLA_IFNAME, peer.c_str());
    mnl_attr_nest_end(nlh, peer_attr);
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, linkinfo);
    return run(nlh);
  }

  int delete_link(const std::string& name) {
    nlmsghdr* nlh = start(RTM_DELLINK, NLM_F_ACK);
    mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg));
    mnl_attr_put_strz(nlh, IFLA_IFNAME, name.c_str());
    return run(nlh);
  }

  // IFA_FLAGS of the IPv4 address `a` (local address and prefix length), nullopt if absent.
  std::optional<uint32_t> address_flags(const InterfaceAddress& a) {
    struct Query {
      InterfaceAddress want;
      std::optional<uint32_t> flags;
    } q{a, std::nullopt};
    nlmsghdr* nlh = start(RTM_GETADDR, NLM_F_DUMP);
    static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)))->ifa_family =
        AF_INET;
    auto cb = [](const nlmsghdr* reply, void* data) {
      auto* query = static_cast<Query*>(data);
      const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(reply));
      if (ifa->ifa_prefixlen != query->want.prefix) return MNL_CB_OK;
      struct Found {
        std::optional<uint32_t> local;
        uint32_t flags;
      } found{std::nullopt, ifa->ifa_flags};
      auto each = [](const nlattr* attr, void* d) {
        auto* f = static_cast<Found*>(d);
        if (mnl_attr_get_type(attr) == IFA_LOCAL) f->local = ntohl(mnl_attr_get_u32(attr));
        if (mnl_attr_get_type(attr) == IFA_FLAGS) f->flags = mnl_attr_get_u32(attr);
        return MNL_CB_OK;
      };
      mnl_attr_parse(reply, sizeof(ifaddrmsg), each, &found);
      if (found.local == query->want.address.value) query->flags = found.flags;
      return MNL_CB_OK;
    };
    if (run(nlh, cb, &q) != 0) return std::nullopt;
    return q.flags;
  }

 private:
  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 1000;
  alignas(8) std::array<uint8_t, 1024> buf_{};
};

// Runs `f`, expecting an RtnlError whose message starts with `prefix`.
template <typename F>
void expect_error(F&& f, const std::string& prefix) {
  try {
    f();
    ADD_FAILURE() << "no RtnlError, expected: " << prefix;
  } catch (const RtnlError& e) {
    EXPECT_EQ(std::string(e.what()).substr(0, prefix.size()), prefix) << e.what();
  }
}

// Runs `f`, expecting an RtnlError whose message contains `part`.
template <typename F>
void expect_error_contains(F&& f, const std::string& part) {
  try {
    f();
    ADD_FAILURE() << "no RtnlError, expected one saying: " << part;
  } catch (const RtnlError& e) {
    EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
  }
}

class RtnlKernelTest : public ::testing::Test {
 protected:
  void TearDown() override {
    for (const auto& name : created_) raw.delete_link(name);  // ENODEV if gone with its peer
  }

  void bridge(const std::string& name) {
    rtnl->create_bridge(name);
    created_.push_back(name);
  }

  void veth(const std::string& name, const std::string& peer) {
    ASSERT_EQ(raw.create_veth(name, peer), 0);
    created_.push_back(name);
  }

  std::optional<LinkInfo> link(const std::string& name) {
    for (auto& l : rtnl->links())
      if (l.name == name) return l;
    return std::nullopt;
  }

  bool has_address(const AddressInfo& a) {
    auto all = rtnl->addresses();
    return std::find(all.begin(), all.end(), a) != all.end();
  }

  // Routes of one table through `dev`, described and sorted (readable failures, kernel order
  // does not matter).
  std::vector<std::string> routes_via(const std::string& dev, uint32_t table = 254) {
    std::vector<std::string> out;
    for (auto& r : rtnl->routes(table))
      if (r.device == dev) out.push_back(rtnl_msg::describe(r));
    std::sort(out.begin(), out.end());
    return out;
  }

  std::unique_ptr<Rtnl> rtnl = make_mnl_rtnl();
  RawNetlink raw;

 private:
  std::vector<std::string> created_;
};

TEST_F(RtnlKernelTest, LoopbackIsUp) {
  auto lo = link("lo");
  ASSERT_TRUE(lo);
  EXPECT_TRUE(lo->up);
  EXPECT_EQ(lo->kind, "");
  EXPECT_TRUE(has_address(addr("lo", "127.0.0.1/8")));
  EXPECT_TRUE(rtnl->routes(254).empty());  // the local table's routes are not unicast/main
}

TEST_F(RtnlKernelTest, CreateBridgeSetUpAndEnslaveVeth) {
  bridge("vmgwbr0");
  auto br = link("vmgwbr0");
  ASSERT_TRUE(br);
  EXPECT_EQ(br->kind, "bridge");
  EXPECT_FALSE(br->up);
  EXPECT_EQ(br->master, 0);
  rtnl->set_up("vmgwbr0");
  EXPECT_TRUE(link("vmgwbr0")->up);

  veth("vmgwv0", "vmgwv0p");
  auto v = link("vmgwv0");
  ASSERT_TRUE(v);
  EXPECT_EQ(v->kind, "veth");
  EXPECT_EQ(v->master, 0);
  rtnl->set_master("vmgwv0", "vmgwbr0");
  EXPECT_EQ(link("vmgwv0")->master, br->index);
  EXPECT_EQ(link("vmgwv0p")->master, 0);
  rtnl->set_master("vmgwv0", "vmgwbr0");  // already a port: accepted
}

TEST_F(RtnlKernelTest, CreateExistingBridgeIsRefused) {
  bridge("vmgwbr0");
  expect_error([&] { rtnl->create_bridge("vmgwbr0"); }, "create bridge vmgwbr0: File exists");
  expect_error([&] { rtnl->create_bridge("lo"); }, "create bridge lo: File exists");
  expect_error([&] { rtnl->create_bridge("averyveryverylongname"); },
               "create bridge averyveryverylongname: Numerical result out of range");
}

TEST_F(RtnlKernelTest, UnknownDeviceIsRefused) {
  const std::string msg = "no such device 'wan9'";
  expect_error([&] { rtnl->set_up("wan9"); }, msg);
  expect_error([&] { rtnl->set_master("wan9", "lo"); }, msg);
  expect_error([&] { rtnl->set_master("lo", "wan9"); }, msg);
  expect_error([&] { rtnl->add_address(addr("wan9", "203.0.113.5/32")); }, msg);
  expect_error([&] { rtnl->delete_address(addr("wan9", "203.0.113.5/32")); }, msg);
  expect_error(
      [&] {
        rtnl->replace_route({cidr("0.0.0.0/0"), ip("1.2.3.4"), "wan9", 0, 254});
      },
      msg);
  expect_error(
      [&] {
        rtnl->delete_route({cidr("0.0.0.0/0"), ip("1.2.3.4"), "wan9", 0, 254});
      },
      msg);
}

TEST_F(RtnlKernelTest, MasterMustBeABridgeAndPortNotABridge) {
  bridge("vmgwbr0");
  bridge("vmgwbr1");
  veth("vmgwv0", "vmgwv0p");
  expect_error([&] { rtnl->set_master("vmgwv0", "vmgwv0p"); },
               "set master of vmgwv0 to vmgwv0p: Operation not supported");
  expect_error([&] { rtnl->set_master("vmgwbr1", "vmgwbr0"); },
               "set master of vmgwbr1 to vmgwbr0: Too many levels of symbolic links");
}

TEST_F(RtnlKernelTest, HostAddressHasNoPrefixRouteSubnetAddressHasOne) {
  bridge("vmgwbr0");
  rtnl->set_up("vmgwbr0");
  auto host = addr("vmgwbr0", "203.0.113.5/32");
  rtnl->add_address(host);
  EXPECT_TRUE(has_address(host));
  EXPECT_EQ(raw.address_flags(host.address).value_or(0) & IFA_F_NOPREFIXROUTE,
            static_cast<uint32_t>(IFA_F_NOPREFIXROUTE));
  EXPECT_TRUE(routes_via("vmgwbr0").empty());

  auto subnet = addr("vmgwbr0", "10.0.0.1/24");
  rtnl->add_address(subnet);
  EXPECT_TRUE(has_address(subnet));
  EXPECT_EQ(raw.address_flags(subnet.address).value_or(0) & IFA_F_NOPREFIXROUTE, 0U);
  EXPECT_EQ(routes_via("vmgwbr0"),
            std::vector<std::string>{"10.0.0.0/24 dev vmgwbr0 metric 0 table 254"});

  rtnl->delete_address(host);
  EXPECT_FALSE(has_address(host));
  EXPECT_TRUE(has_address(subnet));
  rtnl->delete_address(subnet);
  EXPECT_FALSE(has_address(subnet));
  EXPECT_TRUE(routes_via("vmgwbr0").empty());
}

TEST_F(RtnlKernelTest, DuplicateAndMissingAddressesAreRefused) {
  bridge("vmgwbr0");
  rtnl->add_address(addr("vmgwbr0", "203.0.113.5/32"));
  expect_error([&] { rtnl->add_address(addr("vmgwbr0", "203.0.113.5/32")); },
               "add address 203.0.113.5/32 on vmgwbr0: File exists");
  expect_error([&] { rtnl->delete_address(addr("vmgwbr0", "203.0.113.6/32")); },
               "delete address 203.0.113.6/32 on vmgwbr0: Cannot assign requested address");
  // The same address with another prefix length is another address, as in FakeRtnl.
  rtnl->add_address(addr("vmgwbr0", "203.0.113.5/24"));
  EXPECT_TRUE(has_address(addr("vmgwbr0", "203.0.113.5/24")));
  EXPECT_TRUE(has_address(addr("vmgwbr0", "203.0.113.5/32")));
}

TEST_F(RtnlKernelTest, PrefixRouteAppearsWhenDeviceComesUp) {
  bridge("vmgwbr0");
  rtnl->add_address(addr("vmgwbr0", "10.9.0.1/24"));
  EXPECT_TRUE(routes_via("vmgwbr0").empty());
  rtnl->set_up("vmgwbr0");
  EXPECT_EQ(routes_via("vmgwbr0"),
            std::vector<std::string>{"10.9.0.0/24 dev vmgwbr0 metric 0 table 254"});
}

TEST_F(RtnlKernelTest, ReplaceAndDeleteDefaultRoute) {
  veth("vmgwup0", "vmgwup0p");
  rtnl->set_up("vmgwup0");
  rtnl->set_up("vmgwup0p");
  rtnl->add_address(addr("vmgwup0", "203.0.113.2/24"));

  RouteInfo def{cidr("0.0.0.0/0"), ip("203.0.113.1"), "vmgwup0", 100, 254};
  def.protocol = kVmgwProtocol;  // as vmgw writes them
  rtnl->replace_route(def);
  const std::string connected = "203.0.113.0/24 dev vmgwup0 metric 0 table 254";
  EXPECT_EQ(routes_via("vmgwup0"),
            (std::vector<std::string>{"0.0.0.0/0 via 203.0.113.1 dev vmgwup0 metric 100 table 254",
                                      connected}));
  auto read = rtnl->routes(254);
  EXPECT_EQ(std::count(read.begin(), read.end(), def), 1);  // reads back equal, field by field

  // Same table, destination and metric: replaced in place.
  RouteInfo moved = def;
  moved.gateway = ip("203.0.113.254");
  rtnl->replace_route(moved);
  EXPECT_EQ(routes_via("vmgwup0"),
            (std::vector<std::string>{
                "0.0.0.0/0 via 203.0.113.254 dev vmgwup0 metric 100 table 254", connected}));

  // Another metric is another route.
  RouteInfo backup = def;
  backup.metric = 200;
  rtnl->replace_route(backup);
  EXPECT_EQ(routes_via("vmgwup0"),
            (std::vector<std::string>{
                "0.0.0.0/0 via 203.0.113.1 dev vmgwup0 metric 200 table 254",
                "0.0.0.0/0 via 203.0.113.254 dev vmgwup0 metric 100 table 254", connected}));

  // Another table, read back only from that table.
  RouteInfo other = def;
  other.table = 1000;
  rtnl->replace_route(other);
  EXPECT_EQ(rtnl->routes(1000), std::vector<RouteInfo>{other});
  EXPECT_EQ(routes_via("vmgwup0").size(), 3U);

  rtnl->delete_route(moved);
  rtnl->delete_route(backup);
  rtnl->delete_route(other);
  EXPECT_EQ(routes_via("vmgwup0"), std::vector<std::string>{connected});
  EXPECT_TRUE(rtnl->routes(1000).empty());
  expect_error([&] { rtnl->delete_route(moved); },
               "delete route 0.0.0.0/0 via 203.0.113.254 dev vmgwup0 metric 100 table 254: "
               "No such process");
}

TEST_F(RtnlKernelTest, DirectRoute) {
  bridge("vmgwbr0");
  rtnl->set_up("vmgwbr0");
  rtnl->add_address(addr("vmgwbr0", "10.0.0.1/32"));
  RouteInfo r{cidr("10.0.0.0/24"), Ipv4{}, "vmgwbr0", 10, 254};
  r.protocol = kVmgwProtocol;
  rtnl->replace_route(r);
  EXPECT_EQ(routes_via("vmgwbr0"),
            std::vector<std::string>{"10.0.0.0/24 dev vmgwbr0 metric 10 table 254"});
  EXPECT_EQ(rtnl->routes(254), std::vector<RouteInfo>{r});
  rtnl->delete_route(r);
  EXPECT_TRUE(routes_via("vmgwbr0").empty());
}

TEST_F(RtnlKernelTest, UnreachableGatewayAndDownDeviceAreRefused) {
  veth("vmgwup0", "vmgwup0p");
  expect_error(
      [&] {
        rtnl->replace_route({cidr("10.1.0.0/16"), Ipv4{}, "vmgwup0", 0, 254});
      },
      "replace route 10.1.0.0/16 dev vmgwup0 metric 0 table 254: Network is down");
  rtnl->set_up("vmgwup0");
  rtnl->add_address(addr("vmgwup0", "203.0.113.2/24"));
  expect_error(
      [&] {
        rtnl->replace_route({cidr("0.0.0.0/0"), ip("192.0.2.1"), "vmgwup0", 100, 254});
      },
      "replace route 0.0.0.0/0 via 192.0.2.1 dev vmgwup0 metric 100 table 254: "
      "Network is unreachable");
}

TEST_F(RtnlKernelTest, DeletingLastAddressFlushesRoutesOfTheDevice) {
  veth("vmgwup0", "vmgwup0p");
  rtnl->set_up("vmgwup0");
  rtnl->add_address(addr("vmgwup0", "203.0.113.2/24"));
  rtnl->replace_route({cidr("0.0.0.0/0"), ip("203.0.113.1"), "vmgwup0", 100, 254});
  rtnl->replace_route({cidr("0.0.0.0/0"), ip("203.0.113.1"), "vmgwup0", 100, 1000});
  rtnl->delete_address(addr("vmgwup0", "203.0.113.2/24"));
  EXPECT_TRUE(routes_via("vmgwup0").empty());
  EXPECT_TRUE(rtnl->routes(1000).empty());
}

TEST_F(RtnlKernelTest, ManyLinksDumpCompletely) {
  // Enough links that the dump spans several datagrams.
  for (int i = 0; i < 40; ++i) bridge("vmgwmany" + std::to_string(i));
  int found = 0;
  for (const auto& l : rtnl->links())
    if (l.name.rfind("vmgwmany", 0) == 0) ++found;
  EXPECT_EQ(found, 40);
}

// Policy routing as vmgw uses it for several uplinks: nexthops and a weighted group, routes
// through them in a table of their own, rules by mark and by source, all read back field by
// field, and the kernel's own reactions that FakeRtnl imitates.
TEST_F(RtnlKernelTest, NexthopsGroupsRoutesAndRulesRoundTrip) {
  veth("vmgwnh0", "vmgwnh0p");
  veth("vmgwnh1", "vmgwnh1p");
  for (const char* d : {"vmgwnh0", "vmgwnh0p", "vmgwnh1", "vmgwnh1p"}) rtnl->set_up(d);
  rtnl->add_address(addr("vmgwnh0", "203.0.113.2/24"));
  rtnl->add_address(addr("vmgwnh1", "198.51.100.2/24"));

  NexthopInfo a{1101, "vmgwnh0", ip("203.0.113.1"), {}, kVmgwProtocol};
  NexthopInfo b{1102, "vmgwnh1", ip("198.51.100.1"), {}, kVmgwProtocol};
  NexthopInfo group{2101, "", Ipv4{}, {{1101, 1}, {1102, 3}}, kVmgwProtocol};
  rtnl->replace_nexthop(a);
  rtnl->replace_nexthop(b);
  rtnl->replace_nexthop(group);
  auto listed = rtnl->nexthops();
  for (const auto& n : {a, b, group}) EXPECT_EQ(std::count(listed.begin(), listed.end(), n), 1);

  RouteInfo via_group{cidr("0.0.0.0/0"), Ipv4{}, "", 0, 2101, 2101, false, kVmgwProtocol};
  RouteInfo last_resort{cidr("0.0.0.0/0"), Ipv4{}, "", 0xFFFFFFFF, 2101, 0, true, kVmgwProtocol};
  rtnl->replace_route(via_group);
  rtnl->replace_route(last_resort);
  auto routes = rtnl->routes(2101);
  EXPECT_EQ(std::count(routes.begin(), routes.end(), via_group), 1);
  EXPECT_EQ(std::count(routes.begin(), routes.end(), last_resort), 1);

  RuleInfo main_first{10000, std::nullopt, 0, 0, 254, 0, kVmgwProtocol};
  RuleInfo by_mark{10101, std::nullopt, 0x00650000, 0x00ff0000, 1101, std::nullopt, kVmgwProtocol};
  RuleInfo by_source{10701, cidr("10.10.0.0/24"), 0, 0, 2101, std::nullopt, kVmgwProtocol};
  for (const auto& r : {main_first, by_mark, by_source}) rtnl->add_rule(r);
  auto rules = rtnl->rules();
  for (const auto& r : {main_first, by_mark, by_source})
    EXPECT_EQ(std::count(rules.begin(), rules.end(), r), 1) << rtnl_msg::describe(r);
  expect_error([&] { rtnl->add_rule(by_mark); },
               "add rule 10101: from all fwmark 0x650000/0xff0000 lookup 1101: File exists");
  EXPECT_NE(kernel_test::run("ip rule show pref 10101"), "");

  // A group's members are replaced in one step; the route through it stays.
  group.group = {{1102, 1}};
  rtnl->replace_nexthop(group);
  listed = rtnl->nexthops();
  EXPECT_EQ(std::count(listed.begin(), listed.end(), group), 1);
  routes = rtnl->routes(2101);
  EXPECT_EQ(std::count(routes.begin(), routes.end(), via_group), 1);

  // Losing carrier flushes the device's nexthops; a group left empty goes, with its routes.
  kernel_test::sh("ip link set vmgwnh1p down");
  listed = rtnl->nexthops();
  EXPECT_TRUE(std::none_of(listed.begin(), listed.end(),
                           [](const NexthopInfo& n) { return n.id == 1102 || n.id == 2101; }));
  routes = rtnl->routes(2101);
  EXPECT_EQ(routes, std::vector<RouteInfo>{last_resort});
  // ... and a nexthop cannot be added there until carrier is back.
  expect_error_contains([&] { rtnl->replace_nexthop(b); }, "Carrier for nexthop device is down");

  for (const auto& r : {main_first, by_mark, by_source}) rtnl->delete_rule(r);
  rtnl->delete_route(last_resort);
  rtnl->delete_nexthop(1101);
  EXPECT_TRUE(rtnl->routes(2101).empty());
  auto left = rtnl->rules();
  EXPECT_TRUE(std::none_of(left.begin(), left.end(),
                           [](const RuleInfo& r) { return r.protocol == kVmgwProtocol; }));
}

}  // namespace
}  // namespace vmgw::backend

namespace vmgw::backend {
namespace {

// One link asked by name is the link the dump lists, field for field; an absent name, or one
// no device can have, is none.
TEST_F(RtnlKernelTest, OneLinkByNameIsTheDumpedLink) {
  bridge("vmgwbr0");
  veth("vmgwv0", "vmgwv0p");
  rtnl->set_master("vmgwv0", "vmgwbr0");
  for (const char* name : {"lo", "vmgwbr0", "vmgwv0", "vmgwv0p"}) {
    auto one = rtnl->link(name);
    ASSERT_TRUE(one) << name;
    auto listed = link(name);
    ASSERT_TRUE(listed) << name;
    EXPECT_EQ(one->index, listed->index) << name;
    EXPECT_EQ(one->master, listed->master) << name;
    EXPECT_EQ(one->kind, listed->kind) << name;
    EXPECT_EQ(one->up, listed->up) << name;
  }
  EXPECT_EQ(rtnl->link("vmgwv0")->master, rtnl->link("vmgwbr0")->index);
  EXPECT_FALSE(rtnl->link("wan9"));
  EXPECT_FALSE(rtnl->link(""));
  EXPECT_FALSE(rtnl->link("averyveryverylongname"));
  EXPECT_TRUE(rtnl->link("lo")) << "the socket still answers after the refusals";
}

}  // namespace
}  // namespace vmgw::backend
