#include "nft/text.h"

#include <gtest/gtest.h>

#include "nft/table.h"
#include "plan/nft_state.h"

namespace vmgw::nft {
namespace {

TEST(NftText, RendersMatchesAndStatementsAsNftPrintsThem) {
  Rule r{{match(meta("iifname"), "lan0"),
          match(payload("ip", "saddr"), prefix(*Cidr::parse("10.0.0.0/8"))),
          match(meta("l4proto"), "tcp"), match(payload("th", "dport"), port_value({80, 90})),
          counter(), accept()},
         "web"};
  EXPECT_EQ(rule_text(r),
            "iifname \"lan0\" ip saddr 10.0.0.0/8 meta l4proto tcp th dport 80-90 counter accept "
            "comment \"web\"");
}

TEST(NftText, RendersNatFromMaps) {
  auto key = concat({payload("ip", "daddr"), meta("l4proto"), payload("th", "dport")});
  EXPECT_EQ(expr_text(dnat_from_maps(key, "a", "p")),
            "dnat ip to ip daddr . meta l4proto . th dport map @a:ip daddr . meta l4proto . th "
            "dport map @p");
  EXPECT_EQ(expr_text(snat_from_map(payload("ip", "saddr"), "s")), "snat ip to ip saddr map @s");
}

TEST(NftText, KernelCommentCarriesTheRuleId) {
  Rule r{{accept()}, "hello"};
  auto [human, id] = split_kernel_comment(r.kernel_comment());
  EXPECT_EQ(human, "hello");
  EXPECT_EQ(id, r.id());
  EXPECT_EQ(split_kernel_comment("not ours").second, "");
  Rule long_comment{{accept()}, std::string(300, 'x')};
  EXPECT_LE(long_comment.kernel_comment().size(), 127u);
  EXPECT_EQ(split_kernel_comment(long_comment.kernel_comment()).second, long_comment.id());
}

TEST(NftText, RuleIdDependsOnContentOnly) {
  EXPECT_EQ((Rule{{accept()}, "a"}).id(), (Rule{{accept()}, "b"}).id());
  EXPECT_NE((Rule{{accept()}, "a"}).id(), (Rule{{drop()}, "a"}).id());
}

TEST(NftState, ParsesAKernelListing) {
  // Shapes as libnftables 1.0.6 lists them.
  auto listing = Json::parse(R"({"nftables": [
    {"metainfo": {"version": "1.0.6"}},
    {"table": {"family": "inet", "name": "vmgw", "handle": 1}},
    {"table": {"family": "inet", "name": "other", "handle": 2}},
    {"map": {"family": "inet", "name": "eip_snat", "table": "vmgw", "type": ["ipv4_addr", "ifname"], "handle": 6, "map": "ipv4_addr",
             "elem": [[{"concat": ["10.0.0.5", "wan0"]}, "203.0.113.10"]]}},
    {"set": {"family": "inet", "name": "masq", "table": "vmgw", "type": ["ifname", "ipv4_addr"], "flags": ["interval"],
             "elem": [{"concat": ["wan0", {"prefix": {"addr": "10.0.0.0", "len": 24}}]}]}},
    {"chain": {"family": "inet", "table": "vmgw", "name": "fw", "handle": 4, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
    {"chain": {"family": "inet", "table": "other", "name": "x", "handle": 1}},
    {"rule": {"family": "inet", "table": "vmgw", "chain": "fw", "handle": 15, "comment": "replies #0123456789ab", "expr": [{"accept": null}]}},
    {"rule": {"family": "inet", "table": "vmgw", "chain": "fw", "handle": 16, "expr": [{"drop": null}]}}
  ]})");
  auto t = vmgw::table_from_listing(listing, "inet", "vmgw");
  ASSERT_TRUE(t);
  ASSERT_EQ(t->sets.size(), 2u);
  EXPECT_EQ(element_text(t->sets[0], t->sets[0].elements[0]), "10.0.0.5 . \"wan0\" : 203.0.113.10");
  EXPECT_EQ(element_text(t->sets[1], t->sets[1].elements[0]), "\"wan0\" . 10.0.0.0/24");
  ASSERT_EQ(t->chains.size(), 1u);
  EXPECT_EQ(t->chains[0].hook->policy, "drop");
  ASSERT_EQ(t->chains[0].rules.size(), 2u);
  EXPECT_EQ(t->chains[0].rules[0].id(), "0123456789ab");
  EXPECT_EQ(t->chains[0].rules[0].comment, "replies");
  EXPECT_NE(t->chains[0].rules[1].id(), (Rule{{drop()}, ""}).id());  // not ours: never matches
  EXPECT_FALSE(vmgw::table_from_listing(listing, "inet", "missing"));
}

}  // namespace
}  // namespace vmgw::nft

namespace vmgw::nft {
namespace {

TEST(NftState, ProtocolsCompareAsNumbersWhetherListedByNameOrNot) {
  // nft prints "tcp" where /etc/protocols exists and 6 where it does not (a minimal system).
  auto listing = [](const Json& proto) {
    return Json{{"nftables",
                 {{{"table", {{"family", "inet"}, {"name", "vmgw"}}}},
                  {{"map",
                    {{"family", "inet"},
                     {"table", "vmgw"},
                     {"name", "pf_port"},
                     {"type", {"ipv4_addr", "inet_proto", "inet_service"}},
                     {"map", "inet_service"},
                     {"elem", {{{{"concat", {"203.0.113.2", proto, 8080}}}, 80}}}}}}}}};
  };
  Element ours{{{"concat", {"203.0.113.2", 6, 8080}}}, 80};
  for (const Json& proto : {Json("tcp"), Json(6)}) {
    auto t = vmgw::table_from_listing(listing(proto), "inet", "vmgw");
    ASSERT_TRUE(t);
    EXPECT_EQ(t->sets[0].elements[0], ours) << proto;
    EXPECT_EQ(element_text(t->sets[0], t->sets[0].elements[0]), "203.0.113.2 . tcp . 8080 : 80");
  }
}

}  // namespace
}  // namespace vmgw::nft

namespace vmgw::nft {
namespace {

// Filter names reach rule comments and log prefixes: what nft could not read back is replaced,
// and a cut never splits a UTF-8 character (60 x "é" answered 500: JSON refused the cut byte).
TEST(KernelString, NothingNftCannotReadBackAndNoCutCharacter) {
  EXPECT_EQ(kernel_string("web \"in\" $IP \\ x", 100), "web 'in' _IP / x");
  EXPECT_EQ(kernel_string(std::string("a\x01\x7f"
                                      "b"),
                          100),
            "a??b");
  std::string e60;
  for (int i = 0; i < 60; ++i) e60 += "\xc3\xa9";  // é: two bytes
  const std::string cut = kernel_string(e60, 113);
  EXPECT_EQ(cut.size(), 112U);                         // 56 whole characters, not 56 and a half
  EXPECT_EQ(nlohmann::json(cut).dump().size(), 114U);  // valid UTF-8: dumps without throwing
  Rule r;
  r.comment = "filter " + e60 + " rule 1";
  EXPECT_NO_THROW((void)nlohmann::json(r.kernel_comment()).dump());
  EXPECT_LE(r.kernel_comment().size(), 127U);
}

}  // namespace
}  // namespace vmgw::nft
