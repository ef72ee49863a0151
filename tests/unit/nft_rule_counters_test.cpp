// Decoding a rule of the kernel's GETRULE dump into its comment and counters (the kernel reader
// itself runs in tests/kernel/nft_rule_counters_kernel_test.cpp).
#include "backend/nft_rule_counters.h"

#include <endian.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <cstring>
#include <string>
#include <vector>

namespace vmgw::backend {
namespace {

struct Counter {
  uint64_t packets, bytes;
};

// A NEWRULE message with the given user data and expressions: a counter for each Counter, and
// an "immediate" (a verdict) between them.
std::vector<uint8_t> rule(const std::vector<uint8_t>& userdata,
                          const std::vector<Counter>& counters, uint16_t type = NFT_MSG_NEWRULE) {
  std::vector<uint8_t> buf(4096);
  auto* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type);
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = NFPROTO_INET;
  mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, "vmgw");
  mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, "log_suppressed");
  auto* exprs = mnl_attr_nest_start(nlh, NFTA_RULE_EXPRESSIONS);
  for (const auto& c : counters) {
    auto* other = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "immediate");
    mnl_attr_nest_end(nlh, other);
    auto* elem = mnl_attr_nest_start(nlh, NFTA_LIST_ELEM);
    mnl_attr_put_strz(nlh, NFTA_EXPR_NAME, "counter");
    auto* data = mnl_attr_nest_start(nlh, NFTA_EXPR_DATA);
    mnl_attr_put_u64(nlh, NFTA_COUNTER_BYTES, htobe64(c.bytes));
    mnl_attr_put_u64(nlh, NFTA_COUNTER_PACKETS, htobe64(c.packets));
    mnl_attr_nest_end(nlh, data);
    mnl_attr_nest_end(nlh, elem);
  }
  mnl_attr_nest_end(nlh, exprs);
  if (!userdata.empty()) mnl_attr_put(nlh, NFTA_RULE_USERDATA, userdata.size(), userdata.data());
  buf.resize(nlh->nlmsg_len);
  return buf;
}

// libnftnl's user data records: (type, length, value).
std::vector<uint8_t> udata(uint8_t type, const std::string& value) {
  std::string out;
  out += static_cast<char>(type);
  out += static_cast<char>(value.size() + 1);
  out += value;
  out += '\0';
  return {out.begin(), out.end()};
}

TEST(NftRuleCounters, ARuleGivesItsCommentAndTheSumOfItsCounters) {
  auto r = decode_rule_counter(rule(udata(0, "drop-log: suppressed"), {{7, 700}, {1ULL << 40, 3}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->comment, "drop-log: suppressed");
  EXPECT_TRUE(r->has_counter);
  EXPECT_EQ(r->packets, 7 + (1ULL << 40)) << "64-bit, big-endian";
  EXPECT_EQ(r->bytes, 703u);
}

TEST(NftRuleCounters, TheCommentIsFoundAmongOtherUserData) {
  auto data = udata(1, "another record");
  auto comment = udata(0, "mine");
  data.insert(data.end(), comment.begin(), comment.end());
  auto r = decode_rule_counter(rule(data, {{1, 2}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->comment, "mine");
}

TEST(NftRuleCounters, ARuleWithoutCounterOrCommentSaysSo) {
  auto r = decode_rule_counter(rule({}, {}));
  ASSERT_TRUE(r);
  EXPECT_FALSE(r->has_counter);
  EXPECT_EQ(r->packets, 0u);
  EXPECT_EQ(r->comment, "");
}

TEST(NftRuleCounters, ATruncatedCommentRecordIsIgnoredNotReadPast) {
  std::vector<uint8_t> bad{0, 200, 'x'};  // says 200 bytes, has 1
  auto r = decode_rule_counter(rule(bad, {{1, 1}}));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->comment, "");
  EXPECT_EQ(r->packets, 1u);
}

TEST(NftRuleCounters, OtherMessagesAndShortBytesAreNotRules) {
  EXPECT_FALSE(decode_rule_counter(rule({}, {{1, 1}}, NFT_MSG_NEWCHAIN)));
  auto ok = rule({}, {{1, 1}});
  EXPECT_FALSE(decode_rule_counter({ok.data(), 10}));
  ok.resize(ok.size() - 4);  // the header says more than there is
  EXPECT_FALSE(decode_rule_counter(ok));
}

}  // namespace
}  // namespace vmgw::backend
