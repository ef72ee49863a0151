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
  chain counted {
    counter packets 5 bytes 300 comment "first"
    ip saddr @big counter packets 4294967301 bytes 7 comment "second, past 32 bits"
    accept
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
  ASSERT_EQ(rules.size(), 3u);
  EXPECT_EQ(rules[0], (RuleCounter{"first", true, 5, 300}));
  EXPECT_EQ(rules[1], (RuleCounter{"second, past 32 bits", true, 4294967301ULL, 7}));
  EXPECT_EQ(rules[2], (RuleCounter{"", false, 0, 0}));
  // The other chain's rule is not in the answer; the bridge table's chain of the same name is
  // its own.
  auto bridge = reader.read("bridge", "vmgw_rc_test", "counted");
  ASSERT_EQ(bridge.size(), 1u);
  EXPECT_EQ(bridge[0], (RuleCounter{"bridge", true, 2, 128}));
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
  ASSERT_EQ(fast.size(), 3u);
  EXPECT_EQ(fast, listed);
  EXPECT_TRUE(nft->rule_counters("inet", "vmgw_rc_test", "no_such_chain").empty());
  EXPECT_TRUE(nft->NftBackend::rule_counters("inet", "vmgw_rc_test", "no_such_chain").empty());
}

}  // namespace
}  // namespace vmgw::backend
