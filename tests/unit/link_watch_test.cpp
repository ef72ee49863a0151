#include "backend/link_watch.h"

#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <vector>

namespace vmgw::backend {
namespace {

using Bytes = std::vector<uint8_t>;
constexpr unsigned kUp = IFF_UP | IFF_LOWER_UP | IFF_RUNNING;

// An rtnetlink link message as the kernel sends it.
Bytes link_message(uint16_t type, int index, const char* name, unsigned flags) {
  std::vector<uint32_t> buf(1024);  // aligned for nlmsghdr
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = type;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_index = index;
  ifi->ifi_flags = flags;
  if (name != nullptr) mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
  mnl_attr_put_u32(nlh, IFLA_MTU, 1500);
  const auto* p = static_cast<const uint8_t*>(static_cast<const void*>(buf.data()));
  return Bytes(p, p + nlh->nlmsg_len);
}

TEST(LinkEventDecode, CarrierNeedsAdminUpAndLowerUp) {
  EXPECT_EQ(decode_link_event(link_message(RTM_NEWLINK, 3, "wan0", kUp)),
            (LinkEvent{3, "wan0", true, false}));
  // Admin up, no carrier (cable out, veth peer down).
  EXPECT_EQ(decode_link_event(link_message(RTM_NEWLINK, 3, "wan0", IFF_UP)),
            (LinkEvent{3, "wan0", false, false}));
  // Admin down: the kernel clears IFF_LOWER_UP then, but do not rely on it.
  EXPECT_EQ(decode_link_event(link_message(RTM_NEWLINK, 3, "wan0", IFF_LOWER_UP)),
            (LinkEvent{3, "wan0", false, false}));
  EXPECT_EQ(decode_link_event(link_message(RTM_DELLINK, 3, "wan0", kUp)),
            (LinkEvent{3, "wan0", false, true}));
}

TEST(LinkEventDecode, RefusesOtherMessages) {
  EXPECT_FALSE(decode_link_event(link_message(RTM_NEWLINK, 3, nullptr, kUp)));  // no name
  EXPECT_FALSE(decode_link_event(link_message(RTM_NEWADDR, 3, "wan0", kUp)));
  auto m = link_message(RTM_NEWLINK, 3, "wan0", kUp);
  EXPECT_FALSE(decode_link_event(Bytes(m.begin(), m.begin() + 20)));
  EXPECT_FALSE(decode_link_event(Bytes(m.begin(), m.end() - 4)));  // shorter than nlmsg_len
  EXPECT_FALSE(decode_link_event(Bytes{}));
}

TEST(LinkEventDecode, AnyAlignment) {
  auto m = link_message(RTM_NEWLINK, 9, "wan1", kUp);
  Bytes shifted(1, 0);
  shifted.insert(shifted.end(), m.begin(), m.end());
  EXPECT_EQ(decode_link_event(std::span<const uint8_t>(shifted).subspan(1)),
            (LinkEvent{9, "wan1", true, false}));
}

TEST(CarrierTable, ReportsOnlyChanges) {
  CarrierTable t;
  using C = std::vector<CarrierChange>;
  EXPECT_EQ(t.apply({3, "wan0", true, false}), (C{{"wan0", true}}));
  EXPECT_EQ(t.apply({3, "wan0", true, false}), C{});   // an MTU change, say
  EXPECT_EQ(t.apply({4, "wan1", false, false}), C{});  // appears without carrier
  EXPECT_EQ(t.carrier(), (std::map<std::string, bool>{{"wan0", true}, {"wan1", false}}));
  EXPECT_EQ(t.apply({3, "wan0", false, false}), (C{{"wan0", false}}));
  EXPECT_EQ(t.apply({3, "wan0", true, false}), (C{{"wan0", true}}));
  EXPECT_EQ(t.apply({3, "uplink0", true, false}), (C{{"wan0", false}, {"uplink0", true}}));
  EXPECT_EQ(t.apply({3, "uplink0", false, true}), (C{{"uplink0", false}}));
  EXPECT_EQ(t.apply({4, "wan1", false, true}), C{});
  EXPECT_EQ(t.apply({5, "gone", false, true}), C{});  // unknown
  EXPECT_TRUE(t.carrier().empty());
}

TEST(CarrierTable, ReplaceReportsTheDifferences) {
  CarrierTable t;
  t.apply({3, "wan0", true, false});
  t.apply({4, "wan1", true, false});
  t.apply({5, "wan2", false, false});
  auto changes =
      t.replace({{4, "wan1", false, false}, {5, "wan2", true, false}, {6, "wan3", true, false}});
  EXPECT_EQ(changes, (std::vector<CarrierChange>{
                         {"wan0", false}, {"wan1", false}, {"wan2", true}, {"wan3", true}}));
  EXPECT_EQ(t.carrier(),
            (std::map<std::string, bool>{{"wan1", false}, {"wan2", true}, {"wan3", true}}));
}

TEST(FakeLinkWatch, QueuesChangesOnly) {
  FakeLinkWatch w;
  w.preset("wan0", true);
  EXPECT_TRUE(w.read_ready().empty());
  w.set("wan0", true);
  w.set("wan0", false);
  w.set("wan1", true);
  EXPECT_EQ(w.read_ready(), (std::vector<CarrierChange>{{"wan0", false}, {"wan1", true}}));
  EXPECT_TRUE(w.read_ready().empty());
  EXPECT_EQ(w.carrier(), (std::map<std::string, bool>{{"wan0", false}, {"wan1", true}}));
}

}  // namespace
}  // namespace vmgw::backend
