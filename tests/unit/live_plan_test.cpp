// LivePlan: the batch found from the contributions that change equals the batch diff_table finds
// between the whole plans (and so what the kernel ends up holding); a step made twice is empty;
// DHCP reservations, addresses and ports follow the objects.
#include "plan/live_plan.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "../filter/corpus.h"
#include "backend/fake_nft_backend.h"
#include "compile/compile.h"
#include "filter/builtins.h"
#include "test_support.h"

namespace vmgw {
namespace {

using testing::valid_config;

// No variables: every VM bound to it gets the same chains (shared groups).
constexpr const char* kShared = R"(<filter name='shared'>
  <rule action='accept' direction='in'><tcp dstportstart='22'/></rule>
  <rule action='drop' direction='out'><tcp dstportstart='25'/></rule>
</filter>)";

filter::FilterCatalog catalog(int shared_port = 22) {
  filter::FilterCatalog c = filter::builtin_catalog();
  std::string xml = kShared;
  xml.replace(xml.find("'22'"), 4, "'" + std::to_string(shared_port) + "'");
  c.add_or_replace(filter::testing::parse_ok(xml, "shared.xml"));
  return c;
}

// A VM's shape, drawn at random: which filters, quarantined or not.
struct VmShape {
  bool present = false;
  int filters = 0;  // 0 none, 1 clean-traffic, 2 shared, 3 both
  bool quarantined = false;
};

struct State {
  std::vector<VmShape> vms;
  std::vector<int> forwards;  // per forward slot: -1 absent, else the VM it goes to
  std::vector<int> eips;      // per elastic IP: -1 unbound, else the VM
};

std::string yaml(const State& s) {
  std::string y = R"(uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, dhcp: true, masquerade: [isp1]}
vms:
)";
  for (size_t i = 0; i < s.vms.size(); ++i) {
    const VmShape& v = s.vms[i];
    if (!v.present) continue;
    char line[256];
    std::snprintf(
        line, sizeof line,
        "  - {name: vm%zu, network: vmnet, mac: \"52:54:00:00:01:%02zx\", ip: 10.10.0.%zu, "
        "port: vnet%zu",
        i, i, i + 10, i);
    y += line;
    if (v.filters) {
      y += ", filters: [";
      if (v.filters & 1) y += "{filter: clean-traffic}";
      if (v.filters == 3) y += ", ";
      if (v.filters & 2) y += "{filter: shared}";
      y += "]";
    }
    if (v.quarantined) y += ", quarantine: {allow_from: [192.0.2.0/24]}";
    y += "}\n";
  }
  y += "port_forwards:\n";
  for (size_t k = 0; k < s.forwards.size(); ++k) {
    if (s.forwards[k] < 0) continue;
    y += "  - {public: \"203.0.113.2:" + std::to_string(8000 + 10 * k) + "-" +
         std::to_string(8001 + 10 * k) + "\", to: \"vm" + std::to_string(s.forwards[k]) +
         ":80-81\"}\n";
  }
  y += "elastic_ips:\n  pools:\n    - {name: public, uplink: isp1, cidr: 203.0.113.16/28}\n"
       "  bindings:\n";
  for (size_t e = 0; e < s.eips.size(); ++e) {
    if (s.eips[e] < 0) continue;
    y += "    - {address: 203.0.113." + std::to_string(16 + e) + ", vm: vm" +
         std::to_string(s.eips[e]) + "}\n";
  }
  return y;
}

// A random valid state: forwards and bindings only to present VMs, a VM bound once.
State random_state(std::mt19937& rng, size_t n) {
  State s;
  std::uniform_int_distribution<int> coin(0, 1), four(0, 3), ten(0, 9);
  s.vms.resize(n);
  for (auto& v : s.vms) v = {ten(rng) < 7, four(rng), ten(rng) < 2};
  std::vector<int> present;
  for (size_t i = 0; i < n; ++i)
    if (s.vms[i].present) present.push_back(static_cast<int>(i));
  auto any_vm = [&] {
    if (present.empty() || coin(rng)) return -1;
    return present[std::uniform_int_distribution<size_t>(0, present.size() - 1)(rng)];
  };
  for (int k = 0; k < 4; ++k) s.forwards.push_back(any_vm());
  std::set<int> bound;
  for (int e = 0; e < 4; ++e) {
    int vm = any_vm();
    if (vm >= 0 && !bound.insert(vm).second) vm = -1;
    s.eips.push_back(vm);
  }
  return s;
}

struct Compiled {
  Validated<Config> config;
  std::vector<KeyedContribution> all;
  Plan base;
  Plan full;
};

Compiled compiled(const State& s, const filter::FilterCatalog& cat) {
  auto config = valid_config(yaml(s));
  auto all = contributions(config, cat);
  Plan base = compile_base(config, flags_of(all));
  Plan full = base;
  std::vector<const Contribution*> in_order;
  for (const auto& k : all) in_order.push_back(&k.contribution);
  add_contributions(full, in_order);
  return {std::move(config), std::move(all), std::move(base), std::move(full)};
}

// The changes from a to b: every object whose contribution differs (compared as footprints
// would be: here simply all objects of either side, which must be harmless for the unchanged).
std::vector<ObjectChange> changes(const Compiled& a, const Compiled& b, bool all_keys) {
  std::vector<ObjectChange> out;
  std::set<std::string> keys;
  for (const auto& k : a.all) keys.insert(k.key);
  for (const auto& k : b.all) keys.insert(k.key);
  for (const auto& key : keys) {
    const Contribution* before = nullptr;
    const Contribution* after = nullptr;
    for (const auto& k : a.all)
      if (k.key == key) before = &k.contribution;
    for (const auto& k : b.all)
      if (k.key == key) after = &k.contribution;
    bool differs = !before || !after || before->elements.size() != after->elements.size();
    if (before && after && !differs) {
      for (size_t i = 0; i < before->elements.size(); ++i)
        differs = differs || !(before->elements[i].element == after->elements[i].element);
      differs = differs || before->chains.size() != after->chains.size();
      for (size_t i = 0; !differs && i < before->chains.size(); ++i)
        differs = before->chains[i].chain->name != after->chains[i].chain->name;
    }
    if (!differs && !all_keys) continue;
    out.push_back({key, after ? std::optional<Contribution>(*after) : std::nullopt});
  }
  return out;
}

void load(backend::FakeNftBackend& kernel, const Plan& p) {
  NftChange c = diff_table(std::nullopt, p.table);
  c += diff_table(std::nullopt, p.bridge_table);
  kernel.apply(c.batch());
}

bool kernel_holds(backend::FakeNftBackend& kernel, const Plan& p) {
  return diff_table(kernel.read_table("inet", "vmgw"), p.table).empty() &&
         diff_table(kernel.read_table("bridge", "vmgw"), p.bridge_table).empty();
}

TEST(LivePlan, AStepEqualsTheDiffOfTheWholePlans) {
  std::mt19937 rng(6);
  for (int round = 0; round < 60; ++round) {
    const auto cat = catalog();
    const State sa = random_state(rng, 6), sb = random_state(rng, 6);
    SCOPED_TRACE("round " + std::to_string(round) + "\n" + yaml(sa) + "->\n" + yaml(sb));
    const Compiled a = compiled(sa, cat);
    const Compiled b = compiled(sb, cat);

    LivePlan live;
    live.reset(a.base, a.all);
    const auto ch = changes(a, b, round % 2 == 0);
    ASSERT_EQ(live.flags_after(ch), flags_of(b.all));
    const bool new_base = live.flags_after(ch) != live.flags();
    PlanDelta d = live.step(ch, new_base ? &b.base : nullptr);

    // The same batch content as the diff against a kernel holding the whole plan a.
    backend::FakeNftBackend by_kernel, by_step;
    load(by_kernel, a.full);
    load(by_step, a.full);
    NftChange full = diff_table(by_kernel.read_table("inet", "vmgw"), b.full.table);
    full += diff_table(by_kernel.read_table("bridge", "vmgw"), b.full.bridge_table);
    EXPECT_EQ(d.nft.summary(), full.summary());
    if (!full.empty()) by_kernel.apply(full.batch());
    if (!d.nft.empty()) by_step.apply(d.nft.batch());
    EXPECT_TRUE(kernel_holds(by_kernel, b.full));
    EXPECT_TRUE(kernel_holds(by_step, b.full)) << d.nft.batch().dump();

    // Made, then made again: nothing left to do.
    live.commit(ch, new_base ? &b.base : nullptr);
    EXPECT_TRUE(live.step(ch).nft.empty());
    EXPECT_EQ(live.flags(), flags_of(b.all));
    // The DHCP servers and their reservations are the whole plan's.
    ASSERT_EQ(live.dhcp().size(), b.full.dhcp.size());
    for (size_t i = 0; i < b.full.dhcp.size(); ++i)
      EXPECT_EQ(live.dhcp()[i].hosts_file(), b.full.dhcp[i].hosts_file());
  }
}

TEST(LivePlan, ARedefinedSharedFilterChangesTheVmsValuesNotTheChains) {
  State s;
  s.vms = {{true, 2, false}, {true, 2, false}, {true, 0, false}};
  const Compiled a = compiled(s, catalog(22));
  const Compiled b = compiled(s, catalog(2222));
  LivePlan live;
  live.reset(a.base, a.all);
  PlanDelta d = live.step(changes(a, b, false));
  // The port is a literal of the operator's filter, so each VM's value: the program stays, and
  // each of the two VMs has its element of the rule's set swapped.
  EXPECT_EQ(d.nft.chains_added, 0);
  EXPECT_EQ(d.nft.chains_removed, 0);
  EXPECT_EQ(d.nft.chains_changed, 0);
  EXPECT_EQ(d.nft.elements_added, 2);
  EXPECT_EQ(d.nft.elements_removed, 2);
}

TEST(LivePlan, CommitNamesTheObjectsWhoseRulesOrValuesChanged) {
  State s;
  s.vms = {{true, 2, false}, {true, 2, false}, {true, 0, false}};
  const Compiled a = compiled(s, catalog(22));
  const Compiled b = compiled(s, catalog(2222));
  LivePlan live;
  live.reset(a.base, a.all);
  // Every object is handed over, changed or not: only the two VMs of the redefined filter are
  // named (the daemon looks for flows to revoke among those alone).
  auto changed = live.commit(changes(a, b, true));
  std::sort(changed.begin(), changed.end());
  ASSERT_EQ(changed.size(), 2U);
  for (const auto& key : changed) EXPECT_EQ(key.rfind("vm/", 0), 0U) << key;
  EXPECT_TRUE(live.commit(changes(b, b, true)).empty());
  // A VM that goes is named too.
  State t = s;
  t.vms[2].present = false;
  const Compiled c = compiled(t, catalog(2222));
  EXPECT_EQ(live.commit(changes(b, c, false)).size(), 1U);
}

TEST(LivePlan, HostObjectsFollowTheChange) {
  State s;
  s.vms = {{true, 0, false}, {false, 0, false}};
  s.eips = {0};
  const Compiled a = compiled(s, catalog());
  State t = s;
  t.vms[1].present = true;
  t.eips = {-1, 1};
  const Compiled b = compiled(t, catalog());
  LivePlan live;
  live.reset(a.base, a.all);
  PlanDelta d = live.step(changes(a, b, false));
  ASSERT_EQ(d.ports.size(), 1u);
  EXPECT_EQ(d.ports[0].device, "vnet1");
  ASSERT_EQ(d.add_addresses.size(), 1u);
  EXPECT_EQ(d.add_addresses[0].address.str(), "203.0.113.17/32");
  ASSERT_EQ(d.remove_addresses.size(), 1u);
  EXPECT_EQ(d.remove_addresses[0].address.str(), "203.0.113.16/32");
  ASSERT_EQ(d.dhcp.size(), 1u);
  EXPECT_EQ(d.dhcp[0].hosts_file(), b.full.dhcp[0].hosts_file());
  // A VM whose filters change keeps its reservation: its server is left alone.
  State u = t;
  u.vms[1].filters = 1;
  const Compiled c = compiled(u, catalog());
  live.commit(changes(a, b, false));
  EXPECT_TRUE(live.step(changes(b, c, false)).dhcp.empty());
}

TEST(LivePlan, AnObjectTwiceInOneStepIsABug) {
  LivePlan live;
  live.reset(compiled({}, catalog()).base, {});
  EXPECT_THROW(live.step({{"vm/a", Contribution{}}, {"vm/a", std::nullopt}}), std::logic_error);
}

}  // namespace
}  // namespace vmgw
