#include "backend/rtnl_messages.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <bit>
#include <cstring>
#include <map>
#include <string>

namespace vmgw::backend::rtnl_msg {
namespace {

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}
Cidr cidr(const char* s) {
  return *Cidr::parse(s);
}
InterfaceAddress ifaddr(const char* s) {
  return *InterfaceAddress::parse(s);
}

// Top-level attributes of a message, by type; fails the test on duplicates or overruns.
std::map<uint16_t, const nlattr*> attrs(const Message& m, size_t payload) {
  std::map<uint16_t, const nlattr*> out;
  const nlmsghdr* nlh = header(m);
  EXPECT_GE(nlh->nlmsg_len, mnl_nlmsg_size(payload));
  int ret = mnl_attr_parse(
      nlh, static_cast<unsigned int>(payload),
      [](const nlattr* a, void* data) {
        auto& map = *static_cast<std::map<uint16_t, const nlattr*>*>(data);
        EXPECT_EQ(map.count(mnl_attr_get_type(a)), 0U) << "duplicate attribute";
        map[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
      },
      &out);
  EXPECT_GE(ret, 0);
  return out;
}

uint32_t u32(const nlattr* a) {
  EXPECT_EQ(mnl_attr_get_payload_len(a), 4U);
  return mnl_attr_get_u32(a);
}

// The 4 raw bytes of an IPv4 attribute, in wire (network) order.
std::array<uint8_t, 4> raw4(const nlattr* a) {
  EXPECT_EQ(mnl_attr_get_payload_len(a), 4U);
  std::array<uint8_t, 4> out{};
  std::memcpy(out.data(), mnl_attr_get_payload(a), 4);
  return out;
}

template <typename T>
const T* payload(const Message& m) {
  return static_cast<const T*>(mnl_nlmsg_get_payload(header(m)));
}

void expect_header(const Message& m, uint16_t type, uint16_t flags, uint32_t seq) {
  ASSERT_GE(m.size(), sizeof(nlmsghdr));
  const nlmsghdr* nlh = header(m);
  EXPECT_EQ(nlh->nlmsg_len, m.size());
  EXPECT_EQ(m.size() % 4, 0U);
  EXPECT_EQ(nlh->nlmsg_type, type);
  EXPECT_EQ(nlh->nlmsg_flags, flags);
  EXPECT_EQ(nlh->nlmsg_seq, seq);
  EXPECT_EQ(nlh->nlmsg_pid, 0U);
}

// Builds kernel-like messages (what a dump returns) for the parser tests.
class KernelMessage {
 public:
  template <typename T>
  KernelMessage(uint16_t type, const T& hdr) {
    nlh_ = mnl_nlmsg_put_header(buf_.data());
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = NLM_F_MULTI;
    std::memcpy(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)), &hdr, sizeof(T));
  }
  nlmsghdr* nlh() { return nlh_; }
  void u32(uint16_t type, uint32_t v) { mnl_attr_put_u32(nlh_, type, v); }
  void ip(uint16_t type, const char* s) {
    mnl_attr_put_u32(nlh_, type, htonl(rtnl_msg::ip(s).value));
  }

 private:
  alignas(8) std::array<uint8_t, 1024> buf_{};
  nlmsghdr* nlh_;
};

const IfNames kNames{{1, "lo"}, {4, "wan0"}, {5, "br0"}};

// ---- builders ----

TEST(RtnlMessages, CreateBridge) {
  auto m = create_bridge(42, "br0");
  expect_header(m, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 42);
  const auto* ifi = payload<ifinfomsg>(m);
  EXPECT_EQ(ifi->ifi_family, AF_UNSPEC);
  EXPECT_EQ(ifi->ifi_index, 0);
  EXPECT_EQ(ifi->ifi_change, 0U);
  auto a = attrs(m, sizeof(ifinfomsg));
  ASSERT_EQ(a.size(), 2U);
  ASSERT_TRUE(a.count(IFLA_IFNAME));
  EXPECT_EQ(mnl_attr_get_payload_len(a[IFLA_IFNAME]), 4U);  // "br0\0"
  EXPECT_STREQ(mnl_attr_get_str(a[IFLA_IFNAME]), "br0");
  ASSERT_TRUE(a.count(IFLA_LINKINFO));
  const nlattr* kind = nullptr;
  ASSERT_GE(mnl_attr_parse_nested(
                a[IFLA_LINKINFO],
                [](const nlattr* n, void* data) {
                  if (mnl_attr_get_type(n) == IFLA_INFO_KIND)
                    *static_cast<const nlattr**>(data) = n;
                  return MNL_CB_OK;
                },
                &kind),
            0);
  ASSERT_NE(kind, nullptr);
  EXPECT_EQ(std::string(mnl_attr_get_str(kind), mnl_attr_get_payload_len(kind)), "bridge");

  auto parsed = parse_link(header(m));
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, (LinkInfo{"br0", 0, "bridge", 0, false}));
}

TEST(RtnlMessages, SetUpExactBytes) {
  if constexpr (std::endian::native != std::endian::little) GTEST_SKIP() << "little-endian bytes";
  auto m = set_up(0x01020304, 7);
  const Message expected{
      32, 0, 0, 0,  // nlmsg_len
      16, 0,        // RTM_NEWLINK
      5,  0,        // NLM_F_REQUEST | NLM_F_ACK
      4,  3, 2, 1,  // seq
      0,  0, 0, 0,  // pid
      0,  0,        // ifi_family AF_UNSPEC, pad
      0,  0,        // ifi_type
      7,  0, 0, 0,  // ifi_index
      1,  0, 0, 0,  // ifi_flags IFF_UP
      1,  0, 0, 0,  // ifi_change IFF_UP
  };
  EXPECT_EQ(m, expected);
}

TEST(RtnlMessages, SetUp) {
  auto m = set_up(9, 7);
  expect_header(m, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 9);
  const auto* ifi = payload<ifinfomsg>(m);
  EXPECT_EQ(ifi->ifi_index, 7);
  EXPECT_EQ(ifi->ifi_change, static_cast<unsigned>(IFF_UP));
  EXPECT_EQ(ifi->ifi_flags, static_cast<unsigned>(IFF_UP));
  EXPECT_TRUE(attrs(m, sizeof(ifinfomsg)).empty());
}

TEST(RtnlMessages, SetMaster) {
  auto m = set_master(10, 6, 5);
  expect_header(m, RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK, 10);
  const auto* ifi = payload<ifinfomsg>(m);
  EXPECT_EQ(ifi->ifi_index, 6);
  EXPECT_EQ(ifi->ifi_change, 0U);
  EXPECT_EQ(ifi->ifi_flags, 0U);
  auto a = attrs(m, sizeof(ifinfomsg));
  ASSERT_EQ(a.size(), 1U);
  ASSERT_TRUE(a.count(IFLA_MASTER));
  EXPECT_EQ(u32(a[IFLA_MASTER]), 5U);
}

TEST(RtnlMessages, NewAddressHostRouteHasNoPrefixRoute) {
  auto m = new_address(11, 4, ifaddr("203.0.113.5/32"));
  expect_header(m, RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, 11);
  const auto* ifa = payload<ifaddrmsg>(m);
  EXPECT_EQ(ifa->ifa_family, AF_INET);
  EXPECT_EQ(ifa->ifa_prefixlen, 32);
  EXPECT_EQ(ifa->ifa_index, 4U);
  EXPECT_EQ(ifa->ifa_scope, RT_SCOPE_UNIVERSE);
  auto a = attrs(m, sizeof(ifaddrmsg));
  ASSERT_EQ(a.size(), 4U);
  ASSERT_TRUE(a.count(IFA_PROTO));  // vmgw's mark: down and apply remove only what carries it
  EXPECT_EQ(mnl_attr_get_u8(a[IFA_PROTO]), backend::kVmgwProtocol);
  std::array<uint8_t, 4> addr{203, 0, 113, 5};
  ASSERT_TRUE(a.count(IFA_LOCAL));
  EXPECT_EQ(raw4(a[IFA_LOCAL]), addr);
  ASSERT_TRUE(a.count(IFA_ADDRESS));
  EXPECT_EQ(raw4(a[IFA_ADDRESS]), addr);
  ASSERT_TRUE(a.count(IFA_FLAGS));
  EXPECT_EQ(u32(a[IFA_FLAGS]), static_cast<uint32_t>(IFA_F_NOPREFIXROUTE));

  auto parsed = parse_address(header(m), kNames);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, (AddressInfo{"wan0", ifaddr("203.0.113.5/32")}));
}

TEST(RtnlMessages, NewAddressSubnetKeepsPrefixRoute) {
  auto m = new_address(12, 5, ifaddr("10.0.0.1/24"));
  EXPECT_EQ(payload<ifaddrmsg>(m)->ifa_prefixlen, 24);
  auto a = attrs(m, sizeof(ifaddrmsg));
  EXPECT_EQ(a.count(IFA_FLAGS), 0U);
  EXPECT_EQ(raw4(a[IFA_LOCAL]), (std::array<uint8_t, 4>{10, 0, 0, 1}));
  auto parsed = parse_address(header(m), kNames);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(*parsed, (AddressInfo{"br0", ifaddr("10.0.0.1/24")}));
}

TEST(RtnlMessages, DeleteAddress) {
  auto m = delete_address(13, 4, ifaddr("203.0.113.5/32"));
  expect_header(m, RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK, 13);
  const auto* ifa = payload<ifaddrmsg>(m);
  EXPECT_EQ(ifa->ifa_family, AF_INET);
  EXPECT_EQ(ifa->ifa_prefixlen, 32);
  EXPECT_EQ(ifa->ifa_index, 4U);
  auto a = attrs(m, sizeof(ifaddrmsg));
  EXPECT_EQ(a.size(), 2U);
  EXPECT_EQ(raw4(a[IFA_LOCAL]), (std::array<uint8_t, 4>{203, 0, 113, 5}));
  EXPECT_EQ(raw4(a[IFA_ADDRESS]), (std::array<uint8_t, 4>{203, 0, 113, 5}));
}

TEST(RtnlMessages, ReplaceDefaultRouteViaGateway) {
  RouteInfo r{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254, 0, false, RTPROT_STATIC};
  auto m = replace_route(14, r, 4);
  expect_header(m, RTM_NEWROUTE, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_REPLACE, 14);
  const auto* rtm = payload<rtmsg>(m);
  EXPECT_EQ(rtm->rtm_family, AF_INET);
  EXPECT_EQ(rtm->rtm_dst_len, 0);
  EXPECT_EQ(rtm->rtm_src_len, 0);
  EXPECT_EQ(rtm->rtm_table, RT_TABLE_MAIN);
  EXPECT_EQ(rtm->rtm_protocol, RTPROT_STATIC);
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_UNIVERSE);
  EXPECT_EQ(rtm->rtm_type, RTN_UNICAST);
  auto a = attrs(m, sizeof(rtmsg));
  ASSERT_EQ(a.size(), 5U);
  EXPECT_EQ(raw4(a[RTA_DST]), (std::array<uint8_t, 4>{0, 0, 0, 0}));
  EXPECT_EQ(raw4(a[RTA_GATEWAY]), (std::array<uint8_t, 4>{203, 0, 113, 1}));
  EXPECT_EQ(u32(a[RTA_OIF]), 4U);
  EXPECT_EQ(u32(a[RTA_PRIORITY]), 100U);
  EXPECT_EQ(u32(a[RTA_TABLE]), 254U);

  auto parsed = parse_route(header(m), kNames);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->family, AF_INET);
  EXPECT_EQ(parsed->type, RTN_UNICAST);
  EXPECT_EQ(parsed->route, r);
}

TEST(RtnlMessages, ReplaceDirectRouteHasLinkScopeAndNoGateway) {
  RouteInfo r{cidr("198.51.100.0/24"), Ipv4{}, "br0", 0, 254, 0, false, RTPROT_STATIC};
  auto m = replace_route(15, r, 5);
  const auto* rtm = payload<rtmsg>(m);
  EXPECT_EQ(rtm->rtm_dst_len, 24);
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_LINK);
  auto a = attrs(m, sizeof(rtmsg));
  EXPECT_EQ(a.count(RTA_GATEWAY), 0U);
  EXPECT_EQ(raw4(a[RTA_DST]), (std::array<uint8_t, 4>{198, 51, 100, 0}));
  EXPECT_EQ(u32(a[RTA_PRIORITY]), 0U);
  auto parsed = parse_route(header(m), kNames);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->route, r);
}

TEST(RtnlMessages, RouteInLargeTableUsesRtaTableOnly) {
  RouteInfo r{cidr("10.1.0.0/16"), ip("10.0.0.254"), "br0", 5, 1000, 0, false, RTPROT_STATIC};
  auto m = replace_route(16, r, 5);
  EXPECT_EQ(payload<rtmsg>(m)->rtm_table, RT_TABLE_UNSPEC);
  EXPECT_EQ(u32(attrs(m, sizeof(rtmsg))[RTA_TABLE]), 1000U);
  auto parsed = parse_route(header(m), kNames);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->route, r);
}

TEST(RtnlMessages, DeleteRouteMatchesAnyProtocolAndScope) {
  RouteInfo r{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254, 0, false, RTPROT_STATIC};
  auto m = delete_route(17, r, 4);
  expect_header(m, RTM_DELROUTE, NLM_F_REQUEST | NLM_F_ACK, 17);
  const auto* rtm = payload<rtmsg>(m);
  EXPECT_EQ(rtm->rtm_family, AF_INET);
  EXPECT_EQ(rtm->rtm_table, RT_TABLE_MAIN);
  EXPECT_EQ(rtm->rtm_protocol, 0);
  EXPECT_EQ(rtm->rtm_scope, RT_SCOPE_NOWHERE);
  EXPECT_EQ(rtm->rtm_type, RTN_UNICAST);
  auto a = attrs(m, sizeof(rtmsg));
  EXPECT_EQ(raw4(a[RTA_GATEWAY]), (std::array<uint8_t, 4>{203, 0, 113, 1}));
  EXPECT_EQ(u32(a[RTA_OIF]), 4U);
  EXPECT_EQ(u32(a[RTA_PRIORITY]), 100U);
  EXPECT_EQ(u32(a[RTA_TABLE]), 254U);
}

TEST(RtnlMessages, DumpRequests) {
  auto links = dump_links(1);
  expect_header(links, RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1);
  EXPECT_EQ(links.size(), mnl_nlmsg_size(sizeof(ifinfomsg)));
  EXPECT_EQ(payload<ifinfomsg>(links)->ifi_family, AF_UNSPEC);

  auto addrs = dump_addresses(2);
  expect_header(addrs, RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP, 2);
  EXPECT_EQ(addrs.size(), mnl_nlmsg_size(sizeof(ifaddrmsg)));
  EXPECT_EQ(payload<ifaddrmsg>(addrs)->ifa_family, AF_INET);

  auto routes = dump_routes(3);
  expect_header(routes, RTM_GETROUTE, NLM_F_REQUEST | NLM_F_DUMP, 3);
  EXPECT_EQ(routes.size(), mnl_nlmsg_size(sizeof(rtmsg)));
  EXPECT_EQ(payload<rtmsg>(routes)->rtm_family, AF_INET);
}

TEST(RtnlMessages, SameInputsSameBytes) {
  RouteInfo r{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254, 0, false, RTPROT_STATIC};
  EXPECT_EQ(replace_route(5, r, 4), replace_route(5, r, 4));
  EXPECT_NE(replace_route(5, r, 4), replace_route(6, r, 4));
  EXPECT_EQ(create_bridge(1, "br0"), create_bridge(1, "br0"));
}

// ---- parsers on kernel-style messages ----

TEST(RtnlParse, LinkWithMasterKindAndFlags) {
  ifinfomsg ifi{};
  ifi.ifi_index = 6;
  ifi.ifi_flags = IFF_UP | IFF_BROADCAST | IFF_RUNNING;
  KernelMessage k(RTM_NEWLINK, ifi);
  mnl_attr_put_strz(k.nlh(), IFLA_IFNAME, "vnet0");
  k.u32(IFLA_MTU, 1500);
  k.u32(IFLA_MASTER, 5);
  nlattr* nest = mnl_attr_nest_start(k.nlh(), IFLA_LINKINFO);
  mnl_attr_put_strz(k.nlh(), IFLA_INFO_KIND, "veth");  // with NUL, as the kernel sends it
  mnl_attr_nest_end(k.nlh(), nest);
  auto link = parse_link(k.nlh());
  ASSERT_TRUE(link);
  EXPECT_EQ(*link, (LinkInfo{"vnet0", 6, "veth", 5, true}));
}

TEST(RtnlParse, PhysicalLinkHasNoKindAndDownIsDown) {
  ifinfomsg ifi{};
  ifi.ifi_index = 2;
  ifi.ifi_flags = IFF_BROADCAST;
  KernelMessage k(RTM_NEWLINK, ifi);
  mnl_attr_put_strz(k.nlh(), IFLA_IFNAME, "eth0");
  auto link = parse_link(k.nlh());
  ASSERT_TRUE(link);
  EXPECT_EQ(*link, (LinkInfo{"eth0", 2, "", 0, false}));
}

TEST(RtnlParse, LinkWithoutNameOrWrongTypeIsRejected) {
  ifinfomsg ifi{};
  KernelMessage k(RTM_NEWLINK, ifi);
  EXPECT_FALSE(parse_link(k.nlh()));
  KernelMessage other(RTM_NEWADDR, ifi);
  mnl_attr_put_strz(other.nlh(), IFLA_IFNAME, "eth0");
  EXPECT_FALSE(parse_link(other.nlh()));
}

TEST(RtnlParse, AddressFallsBackToIfaAddress) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 8;
  ifa.ifa_index = 1;
  KernelMessage k(RTM_NEWADDR, ifa);
  k.ip(IFA_ADDRESS, "127.0.0.1");
  auto a = parse_address(k.nlh(), kNames);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (AddressInfo{"lo", ifaddr("127.0.0.1/8")}));
}

TEST(RtnlParse, AddressPrefersIfaLocal) {
  // Point-to-point: IFA_ADDRESS is the peer, IFA_LOCAL ours.
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET;
  ifa.ifa_prefixlen = 32;
  ifa.ifa_index = 99;
  KernelMessage k(RTM_NEWADDR, ifa);
  k.ip(IFA_ADDRESS, "192.0.2.2");
  k.ip(IFA_LOCAL, "192.0.2.1");
  auto a = parse_address(k.nlh(), kNames);
  ASSERT_TRUE(a);
  EXPECT_EQ(*a, (AddressInfo{"", ifaddr("192.0.2.1/32")}));  // unknown ifindex: no name
}

TEST(RtnlParse, NonIpv4AddressIsRejected) {
  ifaddrmsg ifa{};
  ifa.ifa_family = AF_INET6;
  KernelMessage k(RTM_NEWADDR, ifa);
  EXPECT_FALSE(parse_address(k.nlh(), kNames));
  ifaddrmsg v4{};
  v4.ifa_family = AF_INET;
  KernelMessage none(RTM_NEWADDR, v4);  // no address attribute
  EXPECT_FALSE(parse_address(none.nlh(), kNames));
}

TEST(RtnlParse, RouteTableFallsBackToRtmTable) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_dst_len = 24;
  rtm.rtm_table = 100;
  rtm.rtm_type = RTN_UNICAST;
  rtm.rtm_protocol = RTPROT_KERNEL;
  rtm.rtm_scope = RT_SCOPE_LINK;
  KernelMessage k(RTM_NEWROUTE, rtm);
  k.ip(RTA_DST, "10.0.0.0");
  k.u32(RTA_OIF, 5);
  k.ip(RTA_PREFSRC, "10.0.0.1");
  auto r = parse_route(k.nlh(), kNames);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->route,
            (RouteInfo{cidr("10.0.0.0/24"), Ipv4{}, "br0", 0, 100, 0, false, RTPROT_KERNEL}));
}

TEST(RtnlParse, DefaultRouteWithoutDstAndLocalType) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  rtm.rtm_table = RT_TABLE_MAIN;
  rtm.rtm_type = RTN_UNICAST;
  KernelMessage k(RTM_NEWROUTE, rtm);
  k.u32(RTA_TABLE, 254);
  k.ip(RTA_GATEWAY, "203.0.113.1");
  k.u32(RTA_OIF, 4);
  k.u32(RTA_PRIORITY, 100);
  auto r = parse_route(k.nlh(), kNames);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->route, (RouteInfo{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254}));

  rtmsg local{};
  local.rtm_family = AF_INET;
  local.rtm_dst_len = 32;
  local.rtm_table = RT_TABLE_LOCAL;
  local.rtm_type = RTN_LOCAL;
  KernelMessage l(RTM_NEWROUTE, local);
  l.ip(RTA_DST, "127.0.0.1");
  l.u32(RTA_TABLE, 255);
  auto lr = parse_route(l.nlh(), kNames);
  ASSERT_TRUE(lr);
  EXPECT_EQ(lr->type, RTN_LOCAL);
  EXPECT_EQ(lr->route.table, 255U);
}

TEST(RtnlParse, WrongMessageTypeIsNotARoute) {
  rtmsg rtm{};
  rtm.rtm_family = AF_INET;
  KernelMessage k(RTM_NEWLINK, rtm);
  EXPECT_FALSE(parse_route(k.nlh(), kNames));
}

TEST(RtnlDescribe, Routes) {
  EXPECT_EQ(describe(RouteInfo{cidr("0.0.0.0/0"), ip("203.0.113.1"), "wan0", 100, 254}),
            "0.0.0.0/0 via 203.0.113.1 dev wan0 metric 100 table 254");
  EXPECT_EQ(describe(RouteInfo{cidr("10.0.0.0/24"), Ipv4{}, "br0", 0, 254}),
            "10.0.0.0/24 dev br0 metric 0 table 254");
}

}  // namespace
}  // namespace vmgw::backend::rtnl_msg
