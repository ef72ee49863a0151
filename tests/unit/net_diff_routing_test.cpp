// The routing part of the link/address/route diff, against FakeRtnl (which behaves like the
// kernel: nexthops need carrier, losing it flushes them, groups need their members): converging
// twice writes nothing, a health change rewrites only a group, stale objects of vmgw go and
// other programs' rules and routes stay.
#include <gtest/gtest.h>

#include <algorithm>

#include "apply/net_diff.h"
#include "backend/fake_rtnl.h"
#include "compile/compile.h"
#include "filter/builtins.h"
#include "test_support.h"

namespace vmgw {
namespace {

const char* kTwo = R"(
uplinks:
  - {name: dsl, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
  - {name: cable, device: wan1, address: 198.51.100.2/24, gateway: 198.51.100.1, weight: 2}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, masquerade: [dsl, cable]}
)";

struct Host {
  backend::FakeRtnl rtnl;
  Host() {
    rtnl.add_link("wan0", "veth");
    rtnl.add_link("wan1", "veth");
  }
  NetState state() {
    return {rtnl.links(), rtnl.addresses(), rtnl.routes(0), rtnl.rules(), rtnl.nexthops()};
  }
  std::vector<std::string> converge(const Plan& p) {
    auto ops = net_diff(p, state());
    run_net_ops(ops, rtnl);
    std::vector<std::string> out;
    for (const auto& op : ops) out.push_back(op.str());
    return out;
  }
};

Plan plan(const UplinkConditions& health = {}) {
  return compile(testing::valid_config(kTwo), filter::builtin_catalog(), health);
}

TEST(NetDiffRouting, ConvergesThenWritesNothing) {
  Host h;
  EXPECT_FALSE(h.converge(plan()).empty());
  EXPECT_EQ(h.converge(plan()), std::vector<std::string>{});
  EXPECT_EQ(h.rtnl.rules().size(), 6U);  // main first, 2 x mark, 2 x source, 1 network
}

TEST(NetDiffRouting, AHealthChangeRewritesOnlyTheGroups) {
  Host h;
  h.converge(plan());
  auto ops = h.converge(plan({{"dsl", {true, false}}}));
  ASSERT_EQ(ops.size(), 2U);  // the network's group and the host's
  for (const auto& op : ops) EXPECT_EQ(op.rfind("nexthop id ", 0), 0U) << op;
  EXPECT_EQ(h.converge(plan()).size(), 2U);  // and back
}

TEST(NetDiffRouting, CarrierLossIsFollowedWithoutARefusal) {
  Host h;
  h.converge(plan());
  h.rtnl.set_carrier("wan0", false);  // the kernel flushes dsl's nexthop from the groups
  auto after_loss = plan({{"dsl", {false, false}}});
  EXPECT_NO_THROW(h.converge(after_loss));
  EXPECT_EQ(h.converge(after_loss), std::vector<std::string>{});
  h.rtnl.set_carrier("wan0", true);
  EXPECT_NO_THROW(h.converge(plan({{"dsl", {true, false}}})));  // back, still probing
  EXPECT_NO_THROW(h.converge(plan()));                          // probes answered
  EXPECT_EQ(h.converge(plan()), std::vector<std::string>{});
}

TEST(NetDiffRouting, StaleObjectsOfVmgwGoOthersStay) {
  Host h;
  h.converge(plan());
  backend::RuleInfo foreign{200, std::nullopt, 0x1, 0x1, 100, std::nullopt, 0};
  h.rtnl.add_rule(foreign);
  // An uplink removed from the file: its rules, routes and nexthop go.
  std::string one = kTwo;
  one.erase(one.find("  - {name: cable"), one.find("networks:") - one.find("  - {name: cable"));
  one.replace(one.find("[dsl, cable]"), 12, "[dsl]");
  auto ops = h.converge(compile(testing::valid_config(one)));
  auto count = [&](const std::string& prefix) {
    return std::count_if(ops.begin(), ops.end(),
                         [&](const std::string& s) { return s.rfind(prefix, 0) == 0; });
  };
  EXPECT_EQ(count("remove rule "), 2);   // cable's mark and source rules
  EXPECT_EQ(count("remove route "), 2);  // cable's table: default and unreachable
  EXPECT_EQ(count("remove nexthop "), 1);
  auto rules = h.rtnl.rules();
  EXPECT_EQ(std::count(rules.begin(), rules.end(), foreign), 1);
  EXPECT_EQ(h.converge(compile(testing::valid_config(one))), std::vector<std::string>{});
}

}  // namespace
}  // namespace vmgw
