#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "backend/conntrack.h"

namespace vmgw::backend {
namespace {

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}

// Entry from "orig_src orig_dst reply_src reply_dst".
ConntrackEntry entry(const char* os, const char* od, const char* rs, const char* rd) {
  return ConntrackEntry{ip(os), ip(od), ip(rs), ip(rd)};
}

// The elastic IP 203.0.113.17 of VM 10.10.0.11 moves to VM 10.10.0.12.
const ConntrackFilter kInboundToOldVm{ip("203.0.113.17"), ip("10.10.0.11"), std::nullopt,
                                      std::nullopt};
const ConntrackFilter kOutboundFromOldVm{std::nullopt, std::nullopt, ip("10.10.0.11"),
                                         ip("203.0.113.17")};

class ConntrackFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake.entries = {
        // inbound to the EIP, DNATed to the old VM (two flows)
        entry("198.51.100.7", "203.0.113.17", "10.10.0.11", "198.51.100.7"),
        entry("198.51.100.8", "203.0.113.17", "10.10.0.11", "198.51.100.8"),
        // outbound from the old VM, SNATed to the EIP
        entry("10.10.0.11", "192.0.2.53", "192.0.2.53", "203.0.113.17"),
        // outbound from the old VM, masqueraded to the uplink address (not the EIP): stays
        entry("10.10.0.11", "192.0.2.80", "192.0.2.80", "203.0.113.2"),
        // already moved: inbound to the EIP DNATed to the new VM: stays
        entry("198.51.100.9", "203.0.113.17", "10.10.0.12", "198.51.100.9"),
        // unrelated VM
        entry("10.10.0.13", "192.0.2.53", "192.0.2.53", "203.0.113.2"),
    };
  }
  FakeConntrack fake;
};

TEST_F(ConntrackFakeTest, DeletesInboundFlowsOfTheOldVm) {
  Conntrack& ct = fake;
  EXPECT_EQ(ct.delete_matching(kInboundToOldVm), 2U);
  EXPECT_EQ(fake.filters, std::vector<ConntrackFilter>{kInboundToOldVm});
  EXPECT_EQ(fake.entries.size(), 4U);
  for (const auto& e : fake.entries) EXPECT_FALSE(matches(kInboundToOldVm, e));
}

TEST_F(ConntrackFakeTest, DeletesOutboundFlowsSnatedToTheEip) {
  EXPECT_EQ(fake.delete_matching(kOutboundFromOldVm), 1U);
  EXPECT_EQ(fake.entries.size(), 5U);
  EXPECT_EQ(fake.entries[2], entry("10.10.0.11", "192.0.2.80", "192.0.2.80", "203.0.113.2"));
}

TEST_F(ConntrackFakeTest, RecordsEveryFilterInOrderEvenWithoutMatches) {
  fake.delete_matching(kInboundToOldVm);
  fake.delete_matching(kOutboundFromOldVm);
  EXPECT_EQ(fake.delete_matching(kInboundToOldVm), 0U);  // already gone
  EXPECT_EQ(fake.filters,
            (std::vector<ConntrackFilter>{kInboundToOldVm, kOutboundFromOldVm, kInboundToOldVm}));
  EXPECT_EQ(fake.entries.size(), 3U);
}

TEST_F(ConntrackFakeTest, SingleFieldFilters) {
  ConntrackFilter by_orig_dst;
  by_orig_dst.orig_dst = ip("203.0.113.17");
  EXPECT_EQ(fake.delete_matching(by_orig_dst), 3U);
  ConntrackFilter by_reply_dst;
  by_reply_dst.reply_dst = ip("203.0.113.2");
  EXPECT_EQ(fake.delete_matching(by_reply_dst), 2U);
  EXPECT_EQ(fake.entries.size(), 1U);
}

TEST_F(ConntrackFakeTest, EmptyFilterIsRefused) {
  try {
    fake.delete_matching(ConntrackFilter{});
    ADD_FAILURE() << "no ConntrackError";
  } catch (const ConntrackError& e) {
    EXPECT_EQ(std::string(e.what()),
              "conntrack: refusing to delete with an empty filter (it would match every entry)");
  }
  EXPECT_EQ(fake.entries.size(), 6U);
  EXPECT_EQ(fake.filters.size(), 1U);
}

TEST(ConntrackFilter, MatchesRequiresEverySetField) {
  auto e = entry("198.51.100.7", "203.0.113.17", "10.10.0.11", "198.51.100.7");
  EXPECT_TRUE(matches(kInboundToOldVm, e));
  EXPECT_FALSE(matches(kOutboundFromOldVm, e));
  ConntrackFilter f = kInboundToOldVm;
  f.reply_src = ip("10.10.0.12");
  EXPECT_FALSE(matches(f, e));
  EXPECT_TRUE(matches(ConntrackFilter{}, e));
  EXPECT_TRUE(is_empty(ConntrackFilter{}));
  EXPECT_FALSE(is_empty(kOutboundFromOldVm));
}

TEST(ConntrackFilter, Describe) {
  EXPECT_EQ(describe(kInboundToOldVm), "orig_dst=203.0.113.17 reply_src=10.10.0.11");
  EXPECT_EQ(describe(kOutboundFromOldVm), "orig_src=10.10.0.11 reply_dst=203.0.113.17");
  EXPECT_EQ(describe(ConntrackFilter{}), "any");
}

}  // namespace
}  // namespace vmgw::backend
