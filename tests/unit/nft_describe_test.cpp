#include "nft/describe.h"

#include <gtest/gtest.h>

#include "nft/table.h"

namespace vmgw::nft {
namespace {

Table vmgw_table() {
  Table t;
  t.sets.push_back(Set{"vm_egress", "ipv4_addr", "verdict", {}, "", {}, 0, false});
  t.sets.push_back(Set{"pf",
                       Json::array({"ipv4_addr", "inet_proto", "inet_service"}),
                       nullptr,
                       {},
                       "",
                       {},
                       0,
                       false});
  return t;
}

TEST(DescribeCommand, ElementsNameTheFirstElementTheCountAndTheSet) {
  Table t = vmgw_table();
  const Set& s = *t.find_set("vm_egress");
  EXPECT_EQ(describe_command(add_elements_cmd(t, s, {{"10.10.0.3", jump("vm-db-out")}})),
            "add element 10.10.0.3 to set inet vmgw vm_egress");
  EXPECT_EQ(
      describe_command(delete_elements_cmd(
          t, s, {{"10.10.0.3", jump("a")}, {"10.10.0.4", jump("b")}, {"10.10.0.5", jump("c")}})),
      "delete element 10.10.0.3 (and 2 more) from set inet vmgw vm_egress");
  const Set& pf = *t.find_set("pf");
  Json key = {{"concat", Json::array({"203.0.113.2", 6, 8080})}};
  EXPECT_EQ(describe_command(add_elements_cmd(t, pf, {{key, nullptr}})),
            "add element 203.0.113.2 . 6 . 8080 to set inet vmgw pf");
}

TEST(DescribeCommand, RulesNameTheirCommentAndChain) {
  Table t = vmgw_table();
  Chain c{"vm-web-in", std::nullopt, {}};
  Rule r{{Json{{"accept", nullptr}}}, "web-in rule 4", ""};
  EXPECT_EQ(describe_command(add_rule_cmd(t, c, r)),
            "add rule 'web-in rule 4' in chain inet vmgw vm-web-in");
  Rule bare{{Json{{"accept", nullptr}}}, "", ""};
  EXPECT_EQ(describe_command(add_rule_cmd(t, c, bare)), "add rule in chain inet vmgw vm-web-in");
}

TEST(DescribeCommand, ChainsSetsAndTables) {
  Table t = vmgw_table();
  t.family = "bridge";
  EXPECT_EQ(describe_command(add_chain_cmd(t, Chain{"l2o-1a2b", std::nullopt, {}})),
            "add chain bridge vmgw l2o-1a2b");
  EXPECT_EQ(describe_command(flush_chain_cmd(t, Chain{"l2o-1a2b", std::nullopt, {}})),
            "flush chain bridge vmgw l2o-1a2b");
  EXPECT_EQ(describe_command(add_set_cmd(t, *t.find_set("vm_egress"))),
            "add map bridge vmgw vm_egress");
  EXPECT_EQ(describe_command(delete_table_cmd(t)), "delete table bridge vmgw");
}

TEST(DescribeCommand, MalformedCommandsAreSaidToBe) {
  EXPECT_EQ(describe_command(Json::array()), "a malformed command");
  EXPECT_EQ(describe_command(Json{{"add", 3}}), "a malformed command");
  EXPECT_EQ(describe_command(Json{{"add", {{"chain", 3}}}}), "add chain");
}

}  // namespace
}  // namespace vmgw::nft
