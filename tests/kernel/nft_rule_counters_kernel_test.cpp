// RuleCounterReader against the real kernel (the test process's private network namespace):
// rules loaded with `nft -f` with set counter values and comments, read back by one GETRULE dump
// of the chain; and, for the same chain, the same answer as the listing-based default.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "backend/nft_backend.h"
#include "backend/nft_rule_counters.h"
#include "support.h"

namespace vmgw::backend {
namespace {

using kernel_test::run;
using kernel_test::sh;

constexpr const char* kRuleset = R"(table inet vmgw_rc_test {
  set big { type ipv4_addr; elements = { 10.0.0.1, 10.0.0.2, 10.0.0.3 } }
  set hoisted {
    type ifname . ipv4_addr . inet_service . ether_addr
    counter
    elements = { "vnet5" . 10.0.0.5 . 22 . 52:54:00:00:00:0a counter packets 7 bytes 420,
                 "vnet5" . 10.0.0.5 . 80 . 52:54:00:00:00:0a counter packets 2 bytes 100,
                 "vnet6" . 10.0.0.6 . 22 . 52:54:00:00:00:0b counter packets 9 bytes 900 }
  }
  set counted_set {
    type ipv4_addr . inet_service
    counter
    elements = { 10.0.0.1 . 22 counter packets 3 bytes 180, 10.0.0.2 . 80 }
  }
  chain counted {
    counter packets 5 bytes 300 comment "first"
    ip saddr @big counter packets 4294967301 bytes 7 comment "second, past 32 bits"
    ip daddr != @big jump other comment "third #0123456789ab"
    goto other
  }
  chain other {
    counter packets 99 bytes 99
  }
}
table bridge vmgw_rc_test {
  chain counted {
    counter packets 2 bytes 128 comment "bridge"
  }
}
)";

class RuleCounters : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run("command -v nft").empty()) GTEST_SKIP() << "nft binary not installed";
    sh("nft delete table inet vmgw_rc_test 2>/dev/null; nft delete table bridge vmgw_rc_test "
       "2>/dev/null");
    const std::string file = "/tmp/vmgw-rc-test-" + std::to_string(getpid()) + ".nft";
    FILE* f = std::fopen(file.c_str(), "w");
    ASSERT_NE(f, nullptr);
    std::fputs(kRuleset, f);
    std::fclose(f);
    ASSERT_EQ(sh("nft -f " + file), 0);
    std::remove(file.c_str());
  }
  void TearDown() override {
    sh("nft delete table inet vmgw_rc_test 2>/dev/null; nft delete table bridge vmgw_rc_test "
       "2>/dev/null");
  }
};

TEST_F(RuleCounters, OneChainIsReadWithItsRulesInOrder) {
  RuleCounterReader reader;
  auto rules = reader.read("inet", "vmgw_rc_test", "counted");
  ASSERT_EQ(rules.size(), 4u);
  EXPECT_EQ(rules[0], (RuleCounter{"first", true, 5, 300, {}, {}}));
  EXPECT_EQ(rules[1], (RuleCounter{"second, past 32 bits", true, 4294967301ULL, 7, {}, {"big"}}));
  EXPECT_EQ(rules[2], (RuleCounter{"third #0123456789ab", false, 0, 0, {"other"}, {"big"}}));
  EXPECT_EQ(rules[3], (RuleCounter{"", false, 0, 0, {"other"}, {}}));
  // The other chain's rule is not in the answer; the bridge table's chain of the same name is
  // its own.
  auto bridge = reader.read("bridge", "vmgw_rc_test", "counted");
  ASSERT_EQ(bridge.size(), 1u);
  EXPECT_EQ(bridge[0], (RuleCounter{"bridge", true, 2, 128, {}, {}}));
}

TEST_F(RuleCounters, AMissingChainOrTableHasNoRulesAndTheReaderStillWorks) {
  RuleCounterReader reader;
  EXPECT_TRUE(reader.read("inet", "vmgw_rc_test", "no_such_chain").empty());
  EXPECT_TRUE(reader.read("inet", "no_such_table", "counted").empty());
  EXPECT_TRUE(reader.read("bridge", "vmgw_rc_test", "other").empty());
  auto rules = reader.read("inet", "vmgw_rc_test", "other");
  ASSERT_EQ(rules.size(), 1u);
  EXPECT_EQ(rules[0].packets, 99u);
  EXPECT_THROW(reader.read("ipx", "vmgw_rc_test", "other"), std::runtime_error);
}

TEST_F(RuleCounters, TheBackendAnswersAsTheListingDoes) {
  auto nft = make_libnftables_backend();
  auto fast = nft->rule_counters("inet", "vmgw_rc_test", "counted");
  auto listed = nft->NftBackend::rule_counters("inet", "vmgw_rc_test", "counted");
  ASSERT_EQ(fast.size(), 4u);
  EXPECT_EQ(fast, listed);
  EXPECT_EQ(fast[2].comment, "third") << "without the id vmgw appends, as the listing gives it";
  EXPECT_TRUE(nft->rule_counters("inet", "vmgw_rc_test", "no_such_chain").empty());
  EXPECT_TRUE(nft->NftBackend::rule_counters("inet", "vmgw_rc_test", "no_such_chain").empty());
}

TEST_F(RuleCounters, OneSetIsReadWithItsElementsCountersAsFromTheTable) {
  auto nft = make_libnftables_backend();
  auto one = nft->read_set("inet", "vmgw_rc_test", "counted_set");
  auto listed = nft->NftBackend::read_set("inet", "vmgw_rc_test", "counted_set");
  ASSERT_TRUE(one);
  ASSERT_TRUE(listed);
  EXPECT_TRUE(one->counter);
  ASSERT_EQ(one->elements.size(), 2u);
  ASSERT_EQ(listed->elements.size(), 2u);
  uint64_t packets = 0;
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(one->elements[i], listed->elements[i]);
    EXPECT_EQ(one->elements[i].packets, listed->elements[i].packets);
    packets += one->elements[i].packets;
  }
  EXPECT_EQ(packets, 3u);
  EXPECT_FALSE(nft->read_set("inet", "vmgw_rc_test", "no_such_set"));
  EXPECT_FALSE(nft->read_set("inet", "no_such_table", "big"));
}

TEST_F(RuleCounters, ElementCountsByKeyBytesAreTheListingsCounts) {
  auto nft = make_libnftables_backend();
  auto declared = nft->read_set("inet", "vmgw_rc_test", "hoisted");
  ASSERT_TRUE(declared);
  auto element = [](const char* port, const char* ip, int svc, const char* mac) {
    return nft::Element{nft::Json{{"concat", {port, ip, svc, mac}}}, nullptr};
  };
  const std::vector<nft::Element> mine = {element("vnet5", "10.0.0.5", 22, "52:54:00:00:00:0a"),
                                          element("vnet5", "10.0.0.5", 80, "52:54:00:00:00:0a"),
                                          element("vnet5", "10.0.0.5", 443, "52:54:00:00:00:0a")};
  ASSERT_TRUE(encode_set_key(declared->type, mine[0].key)) << "the netlink path, not the listing";
  auto fast = nft->element_counts("inet", "vmgw_rc_test", *declared, mine);
  auto listed = nft->NftBackend::element_counts("inet", "vmgw_rc_test", *declared, mine);
  EXPECT_EQ(fast.packets, 9u) << "vnet5's two elements; the third is not in the set";
  EXPECT_EQ(fast.bytes, 520u);
  EXPECT_EQ(fast.packets, listed.packets);
  EXPECT_EQ(fast.bytes, listed.bytes);
  auto other = nft->element_counts("inet", "vmgw_rc_test", *declared,
                                   {element("vnet6", "10.0.0.6", 22, "52:54:00:00:00:0b")});
  EXPECT_EQ(other.packets, 9u);
  EXPECT_EQ(other.bytes, 900u);
  nft::Set absent = *declared;
  absent.name = "no_such_set";
  EXPECT_EQ(nft->element_counts("inet", "vmgw_rc_test", absent, mine).packets, 0u);
}

}  // namespace
}  // namespace vmgw::backend
