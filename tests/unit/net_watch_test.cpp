// Decoding the kernel's notifications: the messages vmgw's own writes send are what the kernel
// notifies (same layout), RTM_DEL* as removals.
#include "backend/net_watch.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netconf.h>
#include <linux/rtnetlink.h>

#include <cstring>

namespace vmgw::backend {
namespace {

using K = NetEvent::Kind;
namespace msg = rtnl_msg;

InterfaceAddress addr(const char* s) {
  return *InterfaceAddress::parse(s);
}

std::vector<uint8_t> with_pid(std::vector<uint8_t> m, uint32_t pid) {
  nlmsghdr h{};
  std::memcpy(&h, m.data(), sizeof h);
  h.nlmsg_pid = pid;
  std::memcpy(m.data(), &h, sizeof h);
  return m;
}

TEST(NetEventDecode, AddressesAddedAndRemoved) {
  msg::IfNames names{{3, "wan0"}};
  auto added =
      decode_net_event(with_pid(msg::new_address(1, 3, addr("203.0.113.17/32")), 4242), names);
  ASSERT_TRUE(added);
  EXPECT_EQ(added->kind, K::address);
  EXPECT_FALSE(added->removed);
  EXPECT_EQ(added->sender, 4242u);
  EXPECT_EQ(added->address, (AddressInfo{"wan0", addr("203.0.113.17/32")}));
  auto removed = decode_net_event(msg::delete_address(1, 3, addr("203.0.113.17/32")), names);
  ASSERT_TRUE(removed);
  EXPECT_TRUE(removed->removed);
  EXPECT_EQ(removed->str(), "address 203.0.113.17/32 on wan0 removed");
}

TEST(NetEventDecode, RoutesRulesNexthopsLinks) {
  msg::IfNames names{{3, "wan0"}};
  RouteInfo route{*Cidr::parse("0.0.0.0/0"), {}, "", 0, 1167, 3000};
  route.protocol = kVmgwProtocol;
  RuleInfo rule_info{10100, std::nullopt, 0xa70000, 0xff0000, 1167};
  rule_info.protocol = kVmgwProtocol;
  NexthopInfo nexthop{1167, "wan0", *Ipv4::parse("203.0.113.1"), {}, kVmgwProtocol};
  auto r = decode_net_event(msg::delete_route(1, route, 0), names);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->kind, K::route);
  EXPECT_TRUE(r->removed);
  EXPECT_EQ(r->route.nexthop, 3000u);
  EXPECT_EQ(r->route.table, 1167u);
  auto rule = decode_net_event(msg::new_rule(1, rule_info), names);
  ASSERT_TRUE(rule);
  EXPECT_EQ(rule->kind, K::rule);
  EXPECT_FALSE(rule->removed);
  EXPECT_EQ(rule->rule, rule_info);
  auto gone = decode_net_event(msg::delete_rule(1, rule_info), names);
  ASSERT_TRUE(gone);
  EXPECT_TRUE(gone->removed);
  EXPECT_EQ(gone->rule.priority, rule_info.priority);
  auto nh = decode_net_event(msg::replace_nexthop(1, nexthop, 3), names);
  ASSERT_TRUE(nh);
  EXPECT_EQ(nh->kind, K::nexthop);
  EXPECT_FALSE(nh->removed);
  EXPECT_EQ(nh->nexthop, nexthop);
  auto br = decode_net_event(msg::create_bridge(1, "br-vm"), names);
  ASSERT_TRUE(br);
  EXPECT_EQ(br->kind, K::link);
  EXPECT_EQ(br->link.name, "br-vm");
  EXPECT_EQ(br->link.kind, "bridge");
}

TEST(NetEventDecode, NetconfAndOthers) {
  std::vector<uint32_t> buf(64);
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = RTM_NEWNETCONF;
  auto* ncm = static_cast<netconfmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(netconfmsg)));
  ncm->ncm_family = AF_INET;
  mnl_attr_put_u32(nlh, NETCONFA_FORWARDING, 0);
  const auto* b = static_cast<const uint8_t*>(static_cast<const void*>(buf.data()));
  std::vector<uint8_t> msg(b, b + nlh->nlmsg_len);
  auto e = decode_net_event(msg, {});
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, K::netconf);
  ncm->ncm_family = AF_INET6;  // IPv6 forwarding is not vmgw's
  std::vector<uint8_t> v6(b, b + nlh->nlmsg_len);
  EXPECT_FALSE(decode_net_event(v6, {}));
  nlh->nlmsg_type = RTM_NEWNEIGH;
  std::vector<uint8_t> neigh(b, b + nlh->nlmsg_len);
  EXPECT_FALSE(decode_net_event(neigh, {}));
  EXPECT_FALSE(decode_net_event(std::vector<uint8_t>(3), {}));
}

TEST(NetEventDecode, BridgePortMessagesAreNotLinkEvents) {
  // A port leaving its bridge is also notified as an AF_BRIDGE RTM_DELLINK: not a device gone.
  auto m = msg::create_bridge(1, "vnet-web");
  nlmsghdr h{};
  std::memcpy(&h, m.data(), sizeof h);
  h.nlmsg_type = RTM_DELLINK;
  std::memcpy(m.data(), &h, sizeof h);
  auto plain = decode_net_event(m, {});
  ASSERT_TRUE(plain);
  EXPECT_TRUE(plain->removed);
  ifinfomsg ifi{};
  std::memcpy(&ifi, m.data() + sizeof h, sizeof ifi);
  ifi.ifi_family = AF_BRIDGE;
  std::memcpy(m.data() + sizeof h, &ifi, sizeof ifi);
  EXPECT_FALSE(decode_net_event(m, {}));
}

}  // namespace
}  // namespace vmgw::backend
