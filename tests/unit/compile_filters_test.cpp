// Per-VM filters in the plan: dispatch by bridge port (layer 2) and VM address (IP), chain groups
// shared between VMs whose filters instantiate identically, quarantine, the br_netfilter switch,
// check_filters, determinism, and the statements that end a filter rule (counter, log, reject,
// omitted and negated matches).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <initializer_list>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "../filter/corpus.h"
#include "compile/compile.h"
#include "compile/filter_rules.h"
#include "compile/plan_text.h"
#include "filter/builtins.h"
#include "nft/text.h"
#include "plan/live_plan.h"
#include "test_support.h"

namespace vmgw {
namespace {

using nft::Json;
using testing::valid_config;
using Strings = std::vector<std::string>;

// No variables: every VM bound to it instantiates it identically.
constexpr const char* kShared = R"(<filter name='shared'>
  <rule action='drop' direction='inout' priority='-100'><mac protocolid='ipv6'/></rule>
  <rule action='accept' direction='in'><tcp dstportstart='22'/></rule>
  <rule action='accept' direction='out'><udp dstportstart='53'/></rule>
  <rule action='drop' direction='in' priority='1000'><all/></rule>
</filter>)";

// One rule per statement shape.
constexpr const char* kStatements = R"(<filter name='stmts'>
  <rule action='drop' direction='in' log='yes'><tcp dstportstart='23'/></rule>
  <rule action='reject' direction='out'><tcp dstportstart='25'/></rule>
  <rule action='reject' direction='out'><udp dstportstart='1900'/></rule>
  <rule action='reject' direction='out'><all dstipaddr='192.0.2.1'/></rule>
  <rule action='accept' direction='in'><tcp state='NONE' dstportstart='80'/></rule>
  <rule action='accept' direction='in'><tcp match='no' dstportstart='22'/></rule>
  <rule action='reject' direction='out'><tcp dstportstart='587'/></rule>
  <rule action='accept' direction='inout'><icmp type='8'/></rule>
  <rule action='accept' direction='in'><tcp state='NEW,ESTABLISHED' dstportstart='443'/></rule>
</filter>)";

// A filter written per VM, as the bench writes them: the same rules in each, naming its own
// VM's management address and service port as literals.
std::string own_filter(const std::string& name, const std::string& mgmt, int port) {
  return "<filter name='" + name +
         "'>\n"
         "  <rule action='accept' direction='in' priority='100'><tcp srcipaddr='" +
         mgmt +
         "' dstportstart='22'/></rule>\n"
         "  <rule action='accept' direction='in' priority='100'><udp dstportstart='" +
         std::to_string(port) +
         "'/></rule>\n"
         "  <rule action='accept' direction='in' priority='100'><udp dstportstart='9000' "
         "dstportend='9099'/></rule>\n"
         "  <rule action='drop' direction='inout' priority='900'><all/></rule>\n"
         "</filter>";
}

// A parameter, possibly a list.
constexpr const char* kPorts = R"(<filter name='ports'>
  <rule action='accept' direction='in'><tcp dstportstart='$PORT'/></rule>
</filter>)";

// Needs a variable nothing provides by default.
constexpr const char* kNeedsGateway = R"(<filter name='needs-gw'>
  <rule action='accept' direction='out'>
    <ip dstipaddr='$GATEWAY'/>
  </rule>
</filter>)";

filter::FilterCatalog catalog() {
  filter::FilterCatalog c = filter::builtin_catalog();
  for (const char* xml : {kShared, kStatements, kNeedsGateway, kPorts})
    c.add_or_replace(filter::testing::parse_ok(xml, "test.xml"));
  c.add_or_replace(filter::testing::parse_ok(own_filter("own-a", "192.168.0.1", 20001), "a.xml"));
  c.add_or_replace(filter::testing::parse_ok(own_filter("own-b", "192.168.0.2", 20002), "b.xml"));
  return c;
}

// One VM in block style; `n` gives its MAC, IP (10.10.0.n) and port (vnet-<name>).
std::string vm(const std::string& name, int n, const std::string& extra = "",
               bool with_port = true) {
  char mac[24];
  std::snprintf(mac, sizeof mac, "52:54:00:00:00:%02x", n);
  std::string y = "  - name: " + name + "\n    network: vmnet\n    mac: \"" + mac +
                  "\"\n    ip: 10.10.0." + std::to_string(n) + "\n";
  if (with_port) y += "    port: vnet-" + name + "\n";
  return y + extra;
}

// A VM's `filters:` entries (each a YAML flow map or a bare filter name).
std::string filters(std::initializer_list<std::string> entries) {
  std::string y = "    filters:\n";
  for (const auto& e : entries) y += "      - " + (e[0] == '{' ? e : "{filter: " + e + "}") + "\n";
  return y;
}

std::string config(const std::string& vms) {
  return "networks:\n"
         "  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, dhcp: "
         "true}\n"
         "vms:\n" +
         vms;
}

Plan compile_yaml(const std::string& yaml) {
  return compile(valid_config(yaml), catalog());
}

const nft::Set& set_of(const nft::Table& t, const std::string& name) {
  const auto* s = t.find_set(name);
  if (!s) throw std::runtime_error("no set " + name);
  return *s;
}

// VM key (port or address) -> the program it is dispatched to from `dispatch` (vm_l2_out, ...):
// each rule there jumps to a program for the members of its set.
std::map<std::string, std::string> targets(const nft::Table& t, const std::string& dispatch) {
  std::map<std::string, std::string> out;
  const nft::Chain* c = t.find_chain(dispatch);
  if (!c) throw std::runtime_error("no chain " + dispatch);
  for (const auto& r : c->rules) {
    std::string members, program;
    for (const auto& x : r.expr) {
      if (x.contains("match")) members = x["match"]["right"].get<std::string>().substr(1);
      if (x.contains("jump")) program = x["jump"]["target"].get<std::string>();
    }
    for (const auto& e : set_of(t, members).elements) out[e.key.get<std::string>()] = program;
  }
  return out;
}

Strings element_texts(const nft::Table& t, const std::string& name) {
  Strings out;
  for (const auto& e : set_of(t, name).elements)
    out.push_back(nft::element_text(set_of(t, name), e));
  std::sort(out.begin(), out.end());
  return out;
}

std::set<std::string> keys(const std::map<std::string, std::string>& m) {
  std::set<std::string> out;
  for (const auto& [k, v] : m) out.insert(k);
  return out;
}

// The chains reachable from `root`: it and its jumps.
std::vector<const nft::Chain*> group(const nft::Table& t, const std::string& root) {
  std::vector<const nft::Chain*> out;
  std::vector<std::string> todo{root};
  std::set<std::string> seen;
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    const nft::Chain* c = t.find_chain(name);
    if (!c || !seen.insert(name).second) continue;
    out.push_back(c);
    for (const auto& r : c->rules) {
      for (const auto& x : r.expr) {
        if (x.contains("jump")) todo.push_back(x["jump"]["target"].get<std::string>());
      }
    }
  }
  return out;
}

bool is_filter_chain(const nft::Chain& c) {
  for (const char* p : {"l2o-", "l2i-", "l3o-", "l3i-"})
    if (c.name.rfind(p, 0) == 0) return true;
  return false;
}

// Whether a rule's comment names `origin`: as written, or as a shared program names a filter the
// operator wrote ("filter <binding> rule 1" for "stmts rule 1").
bool same_origin(const std::string& comment, const std::string& origin) {
  if (comment == origin) return true;
  const std::string rest = origin.substr(origin.find_first_of("/ "));
  if (comment.rfind("filter ", 0) != 0) return false;
  size_t i = 7;
  while (i < comment.size() && comment[i] >= '0' && comment[i] <= '9') ++i;
  return i > 7 && comment.substr(i) == rest;
}

// Every rule whose comment (the instantiated rule's origin) is `origin`, with its chain.
std::vector<std::pair<std::string, const nft::Rule*>> rules_from(const nft::Table& t,
                                                                 const std::string& origin) {
  std::vector<std::pair<std::string, const nft::Rule*>> out;
  for (const auto& c : t.chains)
    for (const auto& r : c.rules)
      if (same_origin(r.comment, origin)) out.emplace_back(c.name, &r);
  return out;
}

// The one rule from `origin` in the inet table's chains whose name starts with `prefix`.
const nft::Rule& l3_rule(const Plan& p, const std::string& prefix, const std::string& origin) {
  const nft::Rule* found = nullptr;
  for (const auto& [chain, r] : rules_from(p.table, origin)) {
    if (chain.rfind(prefix, 0) != 0) continue;
    if (found) throw std::runtime_error("two rules from " + origin + " in " + prefix);
    found = r;
  }
  if (!found) throw std::runtime_error("no rule from " + origin + " in " + prefix);
  return *found;
}

bool has(const nft::Rule& r, const char* key) {
  return std::any_of(r.expr.begin(), r.expr.end(), [&](const Json& e) { return e.contains(key); });
}

const Json& statement(const nft::Rule& r, const char* key) {
  for (const auto& e : r.expr)
    if (e.contains(key)) return e[key];
  throw std::runtime_error(std::string("no ") + key + " in " + nft::rule_text(r));
}

// Whether a rule is counted: by a counter of its own, or (a rule with the VM's own values hoisted
// into its set) by the counter of the VM's element, and then by nothing else: a rule counter
// too would cost every packet an update nobody reads.
bool counted(const nft::Table& t, const nft::Rule& r) {
  bool per_vm = false;
  for (const auto& e : r.expr) {
    if (!e.contains("match") || !e["match"]["right"].is_string()) continue;
    const std::string right = e["match"]["right"].get<std::string>();
    if (right.empty() || right[0] != '@') continue;
    const nft::Set* s = t.find_set(right.substr(1));
    if (s && s->counter) per_vm = true;
  }
  return per_vm != has(r, "counter");
}

// The match on `left` (e.g. payload th dport) in a rule.
const Json* match_on(const nft::Rule& r, const Json& left) {
  for (const auto& e : r.expr)
    if (e.contains("match") && e["match"]["left"] == left) return &e["match"];
  return nullptr;
}

bool has_sysctl(const Plan& p, const std::string& key) {
  return std::any_of(p.sysctls.begin(), p.sysctls.end(),
                     [&](const PlannedSysctl& s) { return s.key == key; });
}

const std::string kTwoCleanVms =
    config(vm("web", 10, filters({"clean-traffic", "shared"})) +
           vm("db", 11, filters({"clean-traffic", "shared"})) + vm("plain", 12));

// ---- dispatch ----

TEST(CompileFilters, DispatchByPortInTheBridgeTableAndByAddressInInet) {
  auto plan = compile_yaml(kTwoCleanVms);
  for (const char* map : {names::kVmL2Out, names::kVmL2In}) {
    auto m = targets(plan.bridge_table, map);
    EXPECT_EQ(keys(m), (std::set<std::string>{"vnet-db", "vnet-web"})) << map;
    for (const auto& [port, chain] : m)
      EXPECT_NE(plan.bridge_table.find_chain(chain), nullptr) << port << " -> " << chain;
  }
  for (const char* map : {names::kVmL3Out, names::kVmL3In}) {
    auto m = targets(plan.table, map);
    EXPECT_EQ(keys(m), (std::set<std::string>{"10.10.0.10", "10.10.0.11"})) << map;
    for (const auto& [ip, chain] : m)
      EXPECT_NE(plan.table.find_chain(chain), nullptr) << ip << " -> " << chain;
  }
  // Layer-2 groups live in the bridge table, IP groups in inet, named by kind.
  for (const auto& [port, chain] : targets(plan.bridge_table, names::kVmL2Out))
    EXPECT_EQ(chain.rfind("l2o-", 0), 0U) << chain;
  for (const auto& [port, chain] : targets(plan.bridge_table, names::kVmL2In))
    EXPECT_EQ(chain.rfind("l2i-", 0), 0U) << chain;
  for (const auto& [ip, chain] : targets(plan.table, names::kVmL3Out))
    EXPECT_EQ(chain.rfind("l3o-", 0), 0U) << chain;
  for (const auto& [ip, chain] : targets(plan.table, names::kVmL3In))
    EXPECT_EQ(chain.rfind("l3i-", 0), 0U) << chain;
  // The IP filter of a VM holds its IP rules.
  auto l3i = targets(plan.table, names::kVmL3In).at("10.10.0.10");
  const auto* chain = plan.table.find_chain(l3i);
  ASSERT_NE(chain, nullptr);
  Strings origins;
  for (const auto& r : chain->rules) origins.push_back(r.comment);
  // "shared" is the VM's second binding: the shared program names it by its place.
  EXPECT_EQ(origins, (Strings{"filter 2 rule 2", "filter 2 rule 4"}));
}

TEST(CompileFilters, VmWithoutFiltersHasNoDispatchElements) {
  auto plan = compile_yaml(kTwoCleanVms);
  for (const char* map : {names::kVmL2Out, names::kVmL2In})
    EXPECT_FALSE(targets(plan.bridge_table, map).contains("vnet-plain")) << map;
  for (const char* map : {names::kVmL3Out, names::kVmL3In})
    EXPECT_FALSE(targets(plan.table, map).contains("10.10.0.12")) << map;

  // No VM with filters: nothing at all.
  plan = compile_yaml(config(vm("web", 10) + vm("db", 11)));
  for (const char* map : {names::kVmL2Out, names::kVmL2In})
    EXPECT_TRUE(plan.bridge_table.find_chain(map)->rules.empty()) << map;
  for (const char* map : {names::kVmL3Out, names::kVmL3In})
    EXPECT_TRUE(plan.table.find_chain(map)->rules.empty()) << map;
  for (const auto* t : {&plan.table, &plan.bridge_table})
    for (const auto& c : t->chains) EXPECT_FALSE(is_filter_chain(c)) << c.name;
  // ...and no IP-filter dispatch in the base chains (quarantine's jump and the flow limit's
  // log chain only).
  for (const char* chain : {names::kVmOutForward, names::kVmInForward, names::kVmOutInput})
    for (const auto& r : plan.table.find_chain(chain)->rules)
      EXPECT_FALSE(has(r, "jump") && statement(r, "jump")["target"] != names::kQuarantineChain &&
                   statement(r, "jump")["target"] != "log_flow_limit")
          << chain << ": " << nft::rule_text(r);
}

TEST(CompileFilters, VmsWhoseFiltersDifferInTheirOwnValuesShareOneProgram) {
  auto plan = compile_yaml(config(vm("web", 10, filters({"clean-traffic", "own-a"})) +
                                  vm("db", 11, filters({"clean-traffic", "own-b"}))));
  for (const auto* t : {&plan.table, &plan.bridge_table})
    for (const char* d : {names::kVmL2Out, names::kVmL2In, names::kVmL3Out, names::kVmL3In}) {
      if (!t->find_chain(d)) continue;
      auto m = targets(*t, d);
      ASSERT_EQ(m.size(), 2U) << d;
      EXPECT_EQ(m.begin()->second, m.rbegin()->second) << d << ": one program for both VMs";
    }
  // The program names neither VM's values: its rules look them up, by the VM's address.
  auto l3i = targets(plan.table, names::kVmL3In).at("10.10.0.10");
  std::map<std::string, Strings> values;  // rule -> its set's elements
  for (const auto& r : plan.table.find_chain(l3i)->rules) {
    const std::string text = nft::rule_text(r);
    EXPECT_EQ(text.find("192.168.0."), std::string::npos) << text;
    EXPECT_EQ(text.find("2000"), std::string::npos) << text;
    const auto at = text.find(" @");
    if (at != std::string::npos)
      values[r.comment] =
          element_texts(plan.table, text.substr(at + 2, text.find(' ', at + 2) - at - 2));
  }
  // own-a and own-b are each VM's second binding: "filter 2" in the shared program.
  EXPECT_EQ(values["filter 2 rule 1"],
            (Strings{"10.10.0.10 . 192.168.0.1 . 22", "10.10.0.11 . 192.168.0.2 . 22"}));
  EXPECT_EQ(values["filter 2 rule 2"], (Strings{"10.10.0.10 . 20001", "10.10.0.11 . 20002"}));
  EXPECT_FALSE(values.contains("filter 2 rule 3")) << "a port range stays in the rule";
  EXPECT_EQ(compile_detail::own_origin("filter 2 rule 1", {"clean-traffic", "own-b"}),
            "own-b rule 1");
  EXPECT_EQ(compile_detail::own_origin("clean-traffic/no-mac-spoofing rule 1", {"clean-traffic"}),
            "clean-traffic/no-mac-spoofing rule 1");
}

TEST(CompileFilters, AListVariableIsOneRuleWithAnElementPerValue) {
  auto plan = compile_yaml(
      config(vm("web", 10, filters({"{filter: ports, params: {PORT: [80, 443, 80]}}"}))));
  auto l3i = targets(plan.table, names::kVmL3In).at("10.10.0.10");
  const auto& rules = plan.table.find_chain(l3i)->rules;
  ASSERT_EQ(rules.size(), 1U);
  const std::string text = nft::rule_text(rules[0]);
  const auto at = text.find(" @");
  ASSERT_NE(at, std::string::npos) << text;
  EXPECT_EQ(element_texts(plan.table, text.substr(at + 2, text.find(' ', at + 2) - at - 2)),
            (Strings{"10.10.0.10 . 443", "10.10.0.10 . 80"}));
}

TEST(CompileFilters, AVmJoiningAProgramInUseAddsElementsOnly) {
  const std::string web = vm("web", 10, filters({"clean-traffic", "own-a"}));
  const auto before = valid_config(config(web));
  const auto after = valid_config(config(web + vm("db", 11, filters({"clean-traffic", "own-b"}))));
  auto all = contributions(before, catalog());
  LivePlan live;
  live.reset(compile_base(before, flags_of(all)), all);
  const std::set<std::string> only{"vm/db"};
  std::vector<ObjectChange> changes;
  for (auto& k : contributions(after, catalog(), &only))
    if (k.key == "vm/db") changes.push_back({k.key, std::move(k.contribution)});
  ASSERT_EQ(changes.size(), 1U);
  PlanDelta d = live.step(changes);
  EXPECT_GT(d.nft.elements_added, 0);
  EXPECT_EQ(d.nft.chains_added + d.nft.chains_changed + d.nft.chains_removed, 0);
  // Elements only, none of them a verdict: the kernel re-validates no jump graph.
  for (const auto& cmd : d.nft.commands) {
    const std::string text = cmd.dump();
    EXPECT_NE(text.find("\"element\""), std::string::npos) << text;
    EXPECT_EQ(text.find("jump"), std::string::npos) << text;
    EXPECT_EQ(text.find("goto"), std::string::npos) << text;
  }
  // ...and taking it away again removes exactly them.
  live.commit(changes);
  PlanDelta back = live.step({{"vm/db", std::nullopt}});
  EXPECT_EQ(back.nft.elements_removed, d.nft.elements_added);
  EXPECT_EQ(back.nft.chains_added + back.nft.chains_changed + back.nft.chains_removed, 0);
}

TEST(CompileFilters, IdenticalInstantiationsShareOneGroup) {
  auto plan =
      compile_yaml(config(vm("web", 10, filters({"shared"})) + vm("db", 11, filters({"shared"})) +
                          vm("app", 12, filters({"shared"}))));
  auto l2o = targets(plan.bridge_table, names::kVmL2Out);
  auto l2i = targets(plan.bridge_table, names::kVmL2In);
  auto l3o = targets(plan.table, names::kVmL3Out);
  auto l3i = targets(plan.table, names::kVmL3In);
  ASSERT_EQ(l2o.size(), 3U);
  ASSERT_EQ(l3i.size(), 3U);
  for (const auto* m : {&l2o, &l2i, &l3o, &l3i}) {
    std::set<std::string> chains;
    for (const auto& [k, chain] : *m) chains.insert(chain);
    EXPECT_EQ(chains.size(), 1U) << "one group for the three VMs";
  }
  // ...emitted once.
  std::map<std::string, int> seen;
  for (const auto* t : {&plan.table, &plan.bridge_table})
    for (const auto& c : t->chains) ++seen[t->family + " " + c.name];
  for (const auto& [name, n] : seen) EXPECT_EQ(n, 1) << name;
  EXPECT_EQ(group(plan.table, l3i.begin()->second).size(), 1U);
}

TEST(CompileFilters, CleanTrafficSharesLayer2ChainsAndLooksUpEachVmsOwnValues) {
  auto plan = compile_yaml(kTwoCleanVms);
  auto l2o = targets(plan.bridge_table, names::kVmL2Out);
  auto l2i = targets(plan.bridge_table, names::kVmL2In);
  EXPECT_EQ(l2o.at("vnet-web"), l2o.at("vnet-db"));
  EXPECT_EQ(l2i.at("vnet-web"), l2i.at("vnet-db"));
  // The shared chains check the frame's MAC against its port's, not a literal: the VM's own
  // values are elements of the rules' sets, keyed by the port.
  int looked_up = 0;
  std::set<std::string> mac_sets;
  for (const auto* c : group(plan.bridge_table, l2o.at("vnet-web"))) {
    for (const auto& r : c->rules) {
      EXPECT_EQ(match_on(r, nft::payload("ether", "saddr")), nullptr) << nft::rule_text(r);
      const std::string text = nft::rule_text(r);
      if (text.find("iifname . ether saddr @") != std::string::npos) {
        ++looked_up;
        mac_sets.insert(
            text.substr(text.find('@') + 1, text.find(' ', text.find('@')) - text.find('@') - 1));
      }
    }
  }
  EXPECT_EQ(looked_up, 1);  // no-mac-spoofing
  ASSERT_EQ(mac_sets.size(), 1U);
  EXPECT_EQ(element_texts(plan.bridge_table, *mac_sets.begin()),
            (Strings{"\"vnet-db\" . 52:54:00:00:00:0b", "\"vnet-web\" . 52:54:00:00:00:0a"}));
  EXPECT_TRUE(set_of(plan.bridge_table, *mac_sets.begin()).counter) << "counted per VM";
  // RARP fields too (typed as ARP's, the same layout): the RARP chain is shared.
  bool rarp = false;
  for (const auto* c : group(plan.bridge_table, l2o.at("vnet-web")))
    if (c->name.size() > 5 && c->name.compare(c->name.size() - 5, 5, "-rarp") == 0) {
      rarp = true;
      for (const auto& r : c->rules)
        EXPECT_EQ(nft::rule_text(r).find("52:54:00"), std::string::npos) << nft::rule_text(r);
    }
  EXPECT_TRUE(rarp);
  // The IP part of clean-traffic + shared has no variables: still shared.
  auto l3i = targets(plan.table, names::kVmL3In);
  EXPECT_EQ(l3i.at("10.10.0.10"), l3i.at("10.10.0.11"));
}

TEST(CompileFilters, Layer2GroupJumpsIntoGuardedSubChains) {
  auto plan = compile_yaml(config(vm("web", 10, filters({"clean-traffic"}))));
  auto root = targets(plan.bridge_table, names::kVmL2Out).at("vnet-web");
  const auto* chain = plan.bridge_table.find_chain(root);
  ASSERT_NE(chain, nullptr);
  Strings suffixes;
  for (const auto& r : chain->rules) {
    if (!has(r, "jump")) continue;
    const auto target = statement(r, "jump")["target"].get<std::string>();
    EXPECT_NE(plan.bridge_table.find_chain(target), nullptr) << target;
    suffixes.push_back(target.substr(target.find('-', 4) + 1));  // l2o-<hash>-<chain>
  }
  EXPECT_EQ(suffixes, (Strings{"mac", "ipv4-ip", "arp-mac", "arp-ip", "rarp"}));
  // ipv4 (allow-incoming-ipv4) has no rule for what the VM sends: no jump, no chain.
  for (const auto* c : group(plan.bridge_table, root))
    EXPECT_EQ(c->name.find("-ipv4", c->name.size() - 5), std::string::npos) << c->name;
}

// ---- quarantine and br_netfilter ----

TEST(CompileFilters, QuarantineFillsItsSets) {
  auto plan = compile_yaml(
      config(vm("web", 10, "    quarantine:\n      allow_from: [192.168.50.0/24, 10.10.0.1/32]\n") +
             vm("db", 11)));
  EXPECT_EQ(element_texts(plan.table, names::kQuarantined), Strings{"10.10.0.10"});
  EXPECT_EQ(element_texts(plan.table, names::kQuarantineAllow),
            (Strings{"10.10.0.10 . 10.10.0.1/32", "10.10.0.10 . 192.168.50.0/24"}));
  EXPECT_EQ(element_texts(plan.bridge_table, names::kQuarantinedPorts), Strings{"\"vnet-web\""});
  // Quarantine alone does not make filter chains.
  for (const auto* t : {&plan.table, &plan.bridge_table})
    for (const auto& c : t->chains) EXPECT_FALSE(is_filter_chain(c)) << c.name;

  // Without management sources, and without a port: address only.
  plan = compile_yaml(config(vm("web", 10, "    quarantine: {}\n", false)));
  EXPECT_EQ(element_texts(plan.table, names::kQuarantined), Strings{"10.10.0.10"});
  EXPECT_TRUE(element_texts(plan.table, names::kQuarantineAllow).empty());
  EXPECT_TRUE(element_texts(plan.bridge_table, names::kQuarantinedPorts).empty());
}

TEST(CompileFilters, BrNetfilterOnlyWhenFiltersOrQuarantineNeedIt) {
  const std::string iptables = "net/bridge/bridge-nf-call-iptables";
  const std::string ip6tables = "net/bridge/bridge-nf-call-ip6tables";
  auto none = compile_yaml(config(vm("web", 10) + vm("db", 11)));
  EXPECT_FALSE(has_sysctl(none, iptables));
  EXPECT_FALSE(has_sysctl(none, ip6tables));

  for (const auto& extra : {filters({"shared"}), std::string("    quarantine: {}\n")}) {
    auto plan = compile_yaml(config(vm("web", 10, extra) + vm("db", 11)));
    for (const auto& key : {iptables, ip6tables}) {
      auto it = std::find_if(plan.sysctls.begin(), plan.sysctls.end(),
                             [&](const PlannedSysctl& s) { return s.key == key; });
      ASSERT_NE(it, plan.sysctls.end()) << key << " with " << extra;
      EXPECT_EQ(it->value, "1");
      EXPECT_TRUE(it->if_present) << "br_netfilter may not be loaded";
    }
  }
}

// ---- check_filters ----

TEST(CompileFilters, CheckFiltersNamesTheVmAndTheRule) {
  const std::string y =
      config(vm("web", 10, filters({"clean-traffic"})) + vm("db", 11, filters({"needs-gw"})) +
             vm("app", 12, filters({"shared", "no-such-filter"})));
  auto v = valid_config(y);
  auto errors = check_filters(v.get(), catalog());
  ASSERT_EQ(errors.size(), 2U) << filter::testing::errors_text(errors);
  EXPECT_EQ(errors[0].path, "vms[1] filter[1]: filter[name=needs-gw]/rule[1]@dstipaddr");
  EXPECT_NE(errors[0].reason.find("$GATEWAY"), std::string::npos) << errors[0].reason;
  EXPECT_EQ(errors[0].where.file, "test.xml");  // the filter's own file and line
  EXPECT_EQ(errors[0].where.line, 3);
  EXPECT_EQ(errors[1].path, "vms[2] filter[2]");
  EXPECT_EQ(errors[1].reason, "unknown filter 'no-such-filter'");
  // Not located in a filter file: located at the VM's `filters:` in the config.
  EXPECT_EQ(errors[1].where.file, "test.yaml");
  EXPECT_GT(errors[1].where.line, 0);

  // compile() refuses what check_filters refuses.
  EXPECT_THROW(compile(v, catalog()), std::logic_error);

  // The parameter fixes it.
  auto fixed = valid_config(
      config(vm("db", 11, filters({"{filter: needs-gw, params: {GATEWAY: 10.10.0.1}}"}))));
  EXPECT_TRUE(check_filters(fixed.get(), catalog()).empty());
}

TEST(CompileFilters, CheckFiltersIgnoresVmsWithoutFilters) {
  auto v = valid_config(config(vm("web", 10) + vm("db", 11, "", false)));
  EXPECT_TRUE(check_filters(v.get(), catalog()).empty());
}

// ---- determinism ----

TEST(CompileFilters, SameInputSameOutputWhateverTheVmOrder) {
  const std::string web = vm("web", 10, filters({"clean-traffic", "shared"}));
  const std::string db = vm("db", 11,
                            filters({"clean-traffic", "{filter: stmts}"}) +
                                "    quarantine:\n      allow_from: [192.168.50.0/24]\n");
  const std::string app = vm("app", 12, filters({"shared"}));
  auto a = plan_json(compile_yaml(config(web + db + app))).dump();
  EXPECT_EQ(a, plan_json(compile_yaml(config(web + db + app))).dump());
  EXPECT_EQ(a, plan_json(compile_yaml(config(app + web + db))).dump());
  EXPECT_EQ(a, plan_json(compile_yaml(config(db + app + web))).dump());
}

// ---- rule statements ----

TEST(CompileFilters, EveryFilterRuleCounts) {
  auto plan = compile_yaml(config(vm("web", 10, filters({"clean-traffic", "shared", "stmts"}))));
  int rules = 0;
  for (const auto* t : {&plan.table, &plan.bridge_table})
    for (const auto& c : t->chains) {
      if (!is_filter_chain(c)) continue;
      for (const auto& r : c.rules) {
        if (r.comment.rfind("nwfilter chain ", 0) == 0) {  // root's jump into a sub-chain
          EXPECT_TRUE(r.expr.back().contains("jump") || r.expr.back().contains("vmap"))
              << nft::rule_text(r);
          continue;
        }
        ++rules;
        EXPECT_TRUE(counted(*t, r)) << c.name << ": " << r.comment;
      }
    }
  EXPECT_GT(rules, 20);
}

std::string chain_text(const nft::Chain& c) {
  std::string out;
  for (const auto& r : c.rules) out += nft::rule_text(r) + "\n";
  return out;
}

const nft::Chain& chain_of(const nft::Table& t, const std::string& name) {
  const nft::Chain* c = t.find_chain(name);
  if (!c) throw std::runtime_error("no chain " + name);
  return *c;
}

TEST(CompileFilters, LoggedRuleLogsToTheDaemonsGroupThroughItsLogChain) {
  auto plan = compile_yaml(config(vm("web", 10, filters({"stmts"}))));
  const auto& r = l3_rule(plan, "l3i-", "stmts rule 1");
  // counted, then the jump to its log chain, which logs and drops.
  ASSERT_GE(r.expr.size(), 2U);
  EXPECT_TRUE(counted(plan.table, r)) << nft::rule_text(r);
  ASSERT_TRUE(r.expr.back().contains("jump")) << nft::rule_text(r);
  const auto target = r.expr.back()["jump"]["target"].get<std::string>();
  EXPECT_EQ(target.rfind("log-", 0), 0U) << target;
  const nft::Chain& lc = chain_of(plan.table, target);
  // Logged within the limits (IPv4 per source and overall; other protocols overall), then the
  // suppressed path, then the verdict.
  ASSERT_EQ(lc.rules.size(), 4U) << chain_text(lc);
  for (size_t i : {0, 1}) {
    const Json& log = statement(lc.rules[i], "log");
    EXPECT_EQ(log["group"], compile_detail::kNflogGroup);
    EXPECT_EQ(log["group"], 7);
    // The program is shared by the VMs whose own filters have these rules: it names the
    // binding's place; vmgwd puts the VM's filter name back (Gateway::own_rule).
    EXPECT_EQ(log["prefix"], "vmgw drop in filter 1 rule 1");
    EXPECT_TRUE(lc.rules[i].expr.back().contains("drop"));
    EXPECT_TRUE(has(lc.rules[i], "set")) << "limited: " << nft::rule_text(lc.rules[i]);
  }
  EXPECT_EQ(lc.rules[2].expr, (std::vector<Json>{nft::jump("log_suppressed")}));
  EXPECT_EQ(lc.rules[3].expr, (std::vector<Json>{nft::drop()}));
  // Rules without log='yes' do not log.
  EXPECT_FALSE(has(l3_rule(plan, "l3i-", "stmts rule 6"), "log"));
  EXPECT_FALSE(has(l3_rule(plan, "l3i-", "stmts rule 6"), "jump"));
}

TEST(CompileFilters, DropLogLimitsComeFromTheConfig) {
  auto text = [](const std::string& host) {
    auto plan = compile_yaml(config(vm("web", 10, filters({"stmts"}))) + host);
    return chain_text(chain_of(plan.table, "log_input"));
  };
  const std::string by_default = text("");
  EXPECT_NE(by_default.find("update @drop_log_sources-20 { ip saddr timeout 60s limit rate "
                            "20/second burst 20 packets }"),
            std::string::npos)
      << by_default;
  EXPECT_NE(by_default.find("update @drop_log_rate-100-100 { meta mark & 0x00000000 limit rate "
                            "100/second burst 100 packets }"),
            std::string::npos)
      << by_default;
  const std::string own = text("host:\n  drop_log: {rate: 7, burst: 9, per_source: 0}\n");
  EXPECT_EQ(own.find("drop_log_sources"), std::string::npos) << own;     // 0: no per-source bound
  EXPECT_NE(own.find("@drop_log_rate-7-9 "), std::string::npos) << own;  // new limit, new bucket
  EXPECT_NE(own.find("limit rate 7/second burst 9 packets"), std::string::npos) << own;
  // A new limit renames the programs' log chains (and so the programs): nothing stays stale.
  auto target = [](const std::string& host) {
    auto plan = compile_yaml(config(vm("web", 10, filters({"stmts"}))) + host);
    return l3_rule(plan, "l3i-", "stmts rule 1").expr.back().dump();
  };
  EXPECT_NE(target(""), target("host:\n  drop_log: {rate: 7}\n"));
}

TEST(CompileFilters, LoggedReturnAndContinueLeaveTheLogChainByReturn) {
  filter::ConcreteRule r;
  r.layer = filter::Layer::l3;
  r.log = true;
  r.origin = "f rule 1";
  r.action = filter::Action::return_;
  auto ret = compile_detail::rule_statements(r, filter::Direction::out, {});
  ASSERT_TRUE(ret.log_chain);
  EXPECT_TRUE(ret.statements.back().contains("goto"));  // the chain's end leaves the caller
  EXPECT_TRUE(ret.log_chain->rules[0].expr.back().contains("return"));
  EXPECT_EQ(ret.log_chain->rules.size(), 3U);  // no verdict of its own
  r.action = filter::Action::continue_;
  auto cont = compile_detail::rule_statements(r, filter::Direction::out, {});
  EXPECT_TRUE(cont.statements.back().contains("jump"));  // the caller goes on
  EXPECT_EQ(cont.log_chain->rules.size(), 3U);
  r.log = false;
  auto plain = compile_detail::rule_statements(r, filter::Direction::out, {});
  EXPECT_FALSE(plain.log_chain);
  EXPECT_EQ(plain.statements, (std::vector<Json>{nft::counter()}));
}

TEST(CompileFilters, RejectIsTcpResetForTcpElseIcmpx) {
  auto plan = compile_yaml(config(vm("web", 10, filters({"stmts"}))));
  EXPECT_EQ(statement(l3_rule(plan, "l3o-", "stmts rule 2"), "reject"),
            (Json{{"type", "tcp reset"}}));
  EXPECT_EQ(statement(l3_rule(plan, "l3o-", "stmts rule 7"), "reject"),
            (Json{{"type", "tcp reset"}}));
  for (const char* origin : {"stmts rule 3", "stmts rule 4"})
    EXPECT_EQ(statement(l3_rule(plan, "l3o-", origin), "reject"),
              (Json{{"type", "icmpx"}, {"expr", "port-unreachable"}}))
        << origin;
}

TEST(CompileFilters, StateNoneRuleIsLeftOut) {
  auto plan = compile_yaml(config(vm("web", 10, filters({"stmts"}))));
  EXPECT_TRUE(rules_from(plan.table, "stmts rule 5").empty());
  EXPECT_TRUE(rules_from(plan.bridge_table, "stmts rule 5").empty());
  // Other states are a ct state match.
  const auto& r = l3_rule(plan, "l3i-", "stmts rule 9");
  const Json* m = match_on(r, nft::ct("state"));
  ASSERT_NE(m, nullptr) << nft::rule_text(r);
  EXPECT_EQ(m->at("op"), "in");
  EXPECT_EQ(m->at("right"), (Json{"new", "established"}));
}

TEST(CompileFilters, MatchNoNegatesTheAttributesNotTheProtocol) {
  auto plan = compile_yaml(config(vm("web", 10, filters({"stmts"}))));
  const auto& r = l3_rule(plan, "l3i-", "stmts rule 6");
  const Json* port = match_on(r, nft::payload("th", "dport"));
  ASSERT_NE(port, nullptr) << nft::rule_text(r);
  EXPECT_EQ(port->at("op"), "!=");
  EXPECT_EQ(port->at("right"), 22);
  const Json* proto = match_on(r, nft::meta("l4proto"));
  ASSERT_NE(proto, nullptr);
  EXPECT_EQ(proto->at("op"), "==");
  EXPECT_EQ(proto->at("right"), 6);
  // Without match='no', the port of a filter the operator wrote is the VM's value: looked up
  // with the VM's address in the rule's set, which holds it.
  const auto& r1 = l3_rule(plan, "l3i-", "stmts rule 1");
  EXPECT_EQ(match_on(r1, nft::payload("th", "dport")), nullptr) << nft::rule_text(r1);
  const std::string text = nft::rule_text(r1);
  const auto at = text.find("ip daddr . th dport @");
  ASSERT_NE(at, std::string::npos) << text;
  const std::string set = text.substr(at + 21, text.find(' ', at + 21) - at - 21);
  EXPECT_EQ(element_texts(plan.table, set), (Strings{"10.10.0.10 . 23"}));
}

TEST(CompileFilters, DirectionsSplitIntoTheirGroups) {
  auto plan = compile_yaml(config(vm("web", 10, filters({"stmts"}))));
  // inout: in both; out: only in the sending group; in: only in the receiving group.
  std::set<std::string> prefixes;
  for (const auto& [chain, r] : rules_from(plan.table, "stmts rule 8"))
    prefixes.insert(chain.substr(0, 4));
  EXPECT_EQ(prefixes, (std::set<std::string>{"l3i-", "l3o-"}));
  EXPECT_EQ(rules_from(plan.table, "stmts rule 2").size(), 1U);
  EXPECT_EQ(rules_from(plan.table, "stmts rule 2")[0].first.substr(0, 4), "l3o-");
  EXPECT_EQ(rules_from(plan.table, "stmts rule 1")[0].first.substr(0, 4), "l3i-");
}

}  // namespace
}  // namespace vmgw
