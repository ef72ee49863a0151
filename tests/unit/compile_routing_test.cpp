// Policy routing for several uplinks, compiled: which uplinks a group holds for each health
// (balance, failover, tiers, the last uplinks kept), the numbers that must not move when other
// uplinks come and go, the tables, rules and nft maps that pin flows, and DSCP rules.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "compile/compile.h"
#include "compile/routing_ids.h"
#include "filter/builtins.h"
#include "nft/text.h"
#include "test_support.h"

namespace vmgw {
namespace {

using testing::valid_config;

const char* kTwo = R"(
uplinks:
  - {name: dsl, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1, weight: 1}
  - {name: cable, device: wan1, address: 198.51.100.2/24, gateway: 198.51.100.1, weight: 3}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, masquerade: [dsl, cable]}
  - {name: lan, bridge: lan0, subnet: 192.168.50.0/24, gateway: 192.168.50.1, masquerade: [dsl]}
vms:
  - {name: web, network: vmnet, mac: "52:54:00:00:00:0a", ip: 10.10.0.10}
elastic_ips:
  pools:
    - {name: cable-ips, uplink: cable, cidr: 198.51.100.16/28}
  bindings:
    - {address: 198.51.100.17, vm: web}
)";

std::string with(const std::string& from, const std::string& to, std::string text = kTwo) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  return text.replace(at, from.size(), to);
}

const PlannedPath& path(const Plan& p, const std::string& network) {
  for (const auto& x : p.paths)
    if (x.network == network) return x;
  throw std::runtime_error("no path " + network);
}

const PlannedUplink& uplink(const Plan& p, const std::string& name) {
  for (const auto& u : p.uplinks)
    if (u.name == name) return u;
  throw std::runtime_error("no uplink " + name);
}

const PlannedNexthop* nexthop(const Plan& p, uint32_t id) {
  for (const auto& n : p.nexthops)
    if (n.id == id) return &n;
  return nullptr;
}

using Names = std::vector<std::string>;

TEST(CompileRouting, BalanceSpreadsByWeightOverEveryLiveUplink) {
  auto p = compile(valid_config(kTwo));
  const auto& vmnet = path(p, "vmnet");
  EXPECT_EQ(vmnet.active, (Names{"dsl", "cable"}));
  const auto* group = nexthop(p, vmnet.group);
  ASSERT_NE(group, nullptr);
  std::vector<std::pair<uint32_t, uint32_t>> want{{uplink(p, "dsl").nexthop, 1},
                                                  {uplink(p, "cable").nexthop, 3}};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(group->members, want);
  // A network masqueraded behind one uplink uses only that one.
  EXPECT_EQ(path(p, "lan").active, Names{"dsl"});
  // The host's own traffic: every uplink.
  EXPECT_EQ(path(p, "").active, (Names{"dsl", "cable"}));
  EXPECT_EQ(path(p, "").table, 254U);
}

TEST(CompileRouting, TheBestLiveTierCarriesTrafficAndFailoverTakesOne) {
  auto tiers = with("weight: 3}", "weight: 3, tier: 2}");
  EXPECT_EQ(path(compile(valid_config(tiers)), "vmnet").active, Names{"dsl"});
  auto dsl_dead = compile(valid_config(tiers), filter::builtin_catalog(), {{"dsl", {true, false}}});
  EXPECT_EQ(path(dsl_dead, "vmnet").active, Names{"cable"});
  // failover: one uplink, the first of the network's order among the best tier.
  auto failover = with("masquerade: [dsl, cable]}",
                       "masquerade: [dsl, cable], uplinks: [cable, dsl], mode: failover}");
  EXPECT_EQ(path(compile(valid_config(failover)), "vmnet").active, Names{"cable"});
  auto cable_dead =
      compile(valid_config(failover), filter::builtin_catalog(), {{"cable", {true, false}}});
  EXPECT_EQ(path(cable_dead, "vmnet").active, Names{"dsl"});
}

TEST(CompileRouting, TheLastUplinksWithCarrierAreNeverTakenOutForTheirProbes) {
  auto all_silent = compile(valid_config(kTwo), filter::builtin_catalog(),
                            {{"dsl", {true, false}}, {"cable", {true, false}}});
  EXPECT_EQ(path(all_silent, "vmnet").active, (Names{"dsl", "cable"}));
  auto one_left = compile(valid_config(kTwo), filter::builtin_catalog(),
                          {{"dsl", {false, false}}, {"cable", {true, false}}});
  EXPECT_EQ(path(one_left, "vmnet").active, Names{"cable"});
  EXPECT_EQ(path(one_left, "lan").active, Names{});  // its only uplink has no carrier
}

TEST(CompileRouting, WithoutCarrierNoNexthopAndTheTablesEndUnreachable) {
  auto p = compile(valid_config(kTwo), filter::builtin_catalog(), {{"dsl", {false, true}}});
  const auto& dsl = uplink(p, "dsl");
  EXPECT_FALSE(dsl.carrier);
  EXPECT_EQ(nexthop(p, dsl.nexthop), nullptr);  // the kernel would refuse it
  std::vector<PlannedRoute> in_dsl;
  for (const auto& r : p.routes)
    if (r.table == dsl.table) in_dsl.push_back(r);
  ASSERT_EQ(in_dsl.size(), 1U);
  EXPECT_TRUE(in_dsl[0].unreachable);  // pinned traffic never leaks to another uplink
  const auto& lan = path(p, "lan");
  EXPECT_EQ(lan.group, 0U);
  for (const auto& r : p.routes) {
    if (r.table == lan.table) {
      EXPECT_TRUE(r.unreachable);
    }
  }
}

TEST(CompileRouting, NumbersDependOnNamesNotOnPositions) {
  auto p = compile(valid_config(kTwo));
  auto more =
      with("uplinks:\n",
           "uplinks:\n  - {name: lte, device: wan2, address: 192.0.2.2/24, gateway: 192.0.2.1}\n");
  auto q = compile(valid_config(more));
  for (const char* name : {"dsl", "cable"}) {
    EXPECT_EQ(uplink(p, name).mark, uplink(q, name).mark) << name;
    EXPECT_EQ(uplink(p, name).table, uplink(q, name).table) << name;
  }
  EXPECT_EQ(path(p, "vmnet").table, path(q, "vmnet").table);
  // Distinct and inside vmgw's ranges.
  auto slots = routing::assign_slots({"a", "b", "c", "dsl", "cable", "lte"});
  std::vector<uint32_t> seen;
  for (const auto& [n, s] : slots) {
    EXPECT_GE(s, 1U);
    EXPECT_LE(s, 255U);
    EXPECT_EQ(std::count(seen.begin(), seen.end(), s), 0);
    seen.push_back(s);
  }
}

TEST(CompileRouting, RulesPinByMarkAndSource) {
  auto p = compile(valid_config(kTwo));
  const auto& cable = uplink(p, "cable");
  EXPECT_EQ(p.rules.front().priority, routing::kRuleMainFirst);
  EXPECT_TRUE(p.rules.front().skip_default_routes);
  auto has = [&](auto pred) { return std::any_of(p.rules.begin(), p.rules.end(), pred); };
  EXPECT_TRUE(has([&](const PlannedRule& r) {
    return r.fwmark == cable.mark && r.fwmask == routing::kMarkMask && r.table == cable.table;
  }));
  EXPECT_TRUE(has([&](const PlannedRule& r) {
    return r.from && r.from->str() == "198.51.100.2/32" && r.table == cable.table;
  }));
  EXPECT_TRUE(has([&](const PlannedRule& r) {
    return r.from && r.from->str() == "10.10.0.0/24" && r.table == path(p, "vmnet").table;
  }));
  EXPECT_TRUE(std::is_sorted(p.rules.begin(), p.rules.end(),
                             [](const auto& a, const auto& b) { return a.priority < b.priority; }));
}

TEST(CompileRouting, AVmWithAnElasticIpIsPinnedToTheElasticIpsUplink) {
  auto p = compile(valid_config(kTwo));
  // The VM is an element of the uplink's set (no verdict element); one rule per uplink sends
  // its members' new flows to the uplink's chain.
  const auto* eips = p.table.find_set(names::eip_uplink_set("cable"));
  ASSERT_NE(eips, nullptr);
  ASSERT_EQ(eips->elements.size(), 1U);
  EXPECT_EQ(nft::element_text(*eips, eips->elements[0]), "10.10.0.10");
  ASSERT_NE(p.table.find_set(names::eip_uplink_set("dsl")), nullptr);
  EXPECT_TRUE(p.table.find_set(names::eip_uplink_set("dsl"))->elements.empty());
  int sends = 0;
  for (const auto& r : p.table.find_chain(names::kRoutePrerouting)->rules)
    if (nft::rule_text(r).find("ip saddr @eip_via_cable goto uplink-cable") != std::string::npos)
      ++sends;
  EXPECT_EQ(sends, 1);
  const auto* chain = p.table.find_chain("uplink-cable");
  ASSERT_NE(chain, nullptr);
  char mark[16];
  std::snprintf(mark, sizeof mark, "0x%08x", uplink(p, "cable").mark);
  EXPECT_EQ(nft::rule_text(chain->rules[0]), std::string("ct mark set ct mark & 0xff00ffff | ") +
                                                 mark +
                                                 " comment \"pin the flow to uplink cable\"");
  const auto* snat = p.table.find_set(names::kUplinkSnat);
  std::vector<std::string> addrs;
  for (const auto& e : snat->elements) addrs.push_back(nft::element_text(*snat, e));
  EXPECT_EQ(addrs, (Names{"\"wan1\" : 198.51.100.2", "\"wan0\" : 203.0.113.2"}));
}

TEST(CompileRouting, HealthChangesTouchOnlyTheGroups) {
  auto healthy = compile(valid_config(kTwo));
  auto dsl_dead = compile(valid_config(kTwo), filter::builtin_catalog(), {{"dsl", {true, false}}});
  EXPECT_EQ(nft::table_text(healthy.table), nft::table_text(dsl_dead.table));
  EXPECT_EQ(healthy.rules.size(), dsl_dead.rules.size());
  EXPECT_EQ(nexthop(dsl_dead, path(dsl_dead, "vmnet").group)->members,
            (std::vector<std::pair<uint32_t, uint32_t>>{{uplink(dsl_dead, "cable").nexthop, 3}}));
}

TEST(CompileDscp, RulesInFileOrderMatchingEitherPort) {
  auto cfg = std::string(kTwo) + R"(dscp:
  - {vm: web, proto: tcp, port: 22, dscp: ef}
  - {network: vmnet, proto: udp, dscp: cs1}
)";
  auto p = compile(valid_config(cfg));
  const auto* chain = p.table.find_chain(names::kDscpForward);
  ASSERT_NE(chain, nullptr);
  ASSERT_EQ(chain->rules.size(), 3U);
  EXPECT_EQ(nft::rule_text(chain->rules[0]),
            "oifname @uplink_ifs ip saddr 10.10.0.10 meta l4proto 6 th dport 22 counter ip dscp "
            "set 46 return comment \"dscp[0]: vm web tcp 22 -> dscp ef (as client)\"");
  EXPECT_EQ(nft::rule_text(chain->rules[1]),
            "oifname @uplink_ifs ip saddr 10.10.0.10 meta l4proto 6 th sport 22 counter ip dscp "
            "set 46 return comment \"dscp[0]: vm web tcp 22 -> dscp ef (as server)\"");
  EXPECT_EQ(nft::rule_text(chain->rules[2]),
            "oifname @uplink_ifs ip saddr 10.10.0.0/24 meta l4proto 17 counter ip dscp set 8 "
            "return comment \"dscp[1]: network vmnet udp -> dscp cs1\"");
}

}  // namespace
}  // namespace vmgw
