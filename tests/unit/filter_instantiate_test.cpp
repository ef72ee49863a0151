// Instantiation: a VM's filter bindings expanded into its Program. Variables (defaults, binding
// parameters, <filterref> parameters and their scope), list variables and iterators, the errors
// that name the variable, attribute and rule, and the shape of the result (layers, sub-chains,
// sorting, root's interleaving of jumps and rules, origins).
#include <gtest/gtest.h>

#include <initializer_list>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../filter/corpus.h"
#include "filter/builtins.h"
#include "filter/instantiate.h"

namespace vmgw::filter {
namespace {

using testing::errors_text;
using testing::parse_ok;

constexpr const char* kWhere = "vm 'web'";
const Variables kDefaults{{"IP", {"10.0.0.5"}}, {"MAC", {"52:54:00:00:00:05"}}};

using Params = std::vector<std::pair<std::string, std::string>>;

// The built-ins plus the given filters.
FilterCatalog catalog(std::initializer_list<std::string> xmls) {
  FilterCatalog c = builtin_catalog();
  for (const auto& x : xmls) c.add_or_replace(parse_ok(x, "test.xml"));
  return c;
}

// A filter of one rule holding `element`.
std::string one_rule(const std::string& name, const std::string& element) {
  return "<filter name='" + name + "'>\n  <rule action='accept' direction='in'>\n    " + element +
         "\n  </rule>\n</filter>";
}

Instantiation run(const FilterCatalog& c, const std::vector<Binding>& bindings,
                  const Variables& defaults = kDefaults) {
  return instantiate(c, bindings, defaults, kWhere);
}

// Instantiation that the test expects to succeed.
Program program(const FilterCatalog& c, const std::vector<Binding>& bindings,
                const Variables& defaults = kDefaults) {
  auto inst = run(c, bindings, defaults);
  EXPECT_TRUE(inst.ok()) << errors_text(inst.errors);
  return inst.program;
}

std::vector<const ConcreteRule*> with_origin(const Program& p, const std::string& origin) {
  std::vector<const ConcreteRule*> out;
  for (const auto& r : p.rules)
    if (r.origin == origin) out.push_back(&r);
  return out;
}

// The value of `attr` in every rule from `origin`, in program order.
std::vector<std::string> values(const Program& p, const std::string& origin,
                                const std::string& attr) {
  std::vector<std::string> out;
  for (const auto* r : with_origin(p, origin)) {
    const Attr* a = r->find(attr);
    out.push_back(a ? a->value : "<none>");
  }
  return out;
}

using Strings = std::vector<std::string>;

// "a|b" for each rule from `origin`: the values of two attributes.
Strings pairs(const Program& p, const std::string& origin, const std::string& x,
              const std::string& y) {
  Strings out;
  for (const auto* r : with_origin(p, origin)) {
    const Attr* a = r->find(x);
    const Attr* b = r->find(y);
    out.push_back((a ? a->value : "-") + "|" + (b ? b->value : "-"));
  }
  return out;
}

// The one error of an instantiation that must fail with exactly one.
Diagnostic only_error(const Instantiation& inst) {
  EXPECT_FALSE(inst.ok());
  EXPECT_EQ(inst.errors.size(), 1U) << errors_text(inst.errors);
  EXPECT_TRUE(inst.program.empty()) << "a failed instantiation has no rules";
  return inst.errors.empty() ? Diagnostic{} : inst.errors.front();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// ---- variables ----

TEST(FilterInstantiate, DefaultsFillIpAndMac) {
  auto p = program(catalog({}), {{"clean-traffic", {}}});
  EXPECT_EQ(values(p, "clean-traffic/no-mac-spoofing rule 1", "srcmacaddr"),
            Strings{"52:54:00:00:00:05"});
  EXPECT_EQ(values(p, "clean-traffic/no-ip-spoofing rule 2", "srcipaddr"), Strings{"10.0.0.5"});
  EXPECT_EQ(values(p, "clean-traffic/no-arp-spoofing/no-arp-ip-spoofing rule 1", "arpsrcipaddr"),
            Strings{"10.0.0.5"});
  EXPECT_EQ(values(p, "clean-traffic/no-arp-spoofing/no-arp-mac-spoofing rule 1", "arpsrcmacaddr"),
            Strings{"52:54:00:00:00:05"});
}

TEST(FilterInstantiate, BindingParametersOverrideDefaults) {
  auto p = program(catalog({}), {{"clean-traffic", {{"IP", "10.0.0.9"}}}});
  EXPECT_EQ(values(p, "clean-traffic/no-ip-spoofing rule 2", "srcipaddr"), Strings{"10.0.0.9"});
  // Defaults not overridden still apply.
  EXPECT_EQ(values(p, "clean-traffic/no-mac-spoofing rule 1", "srcmacaddr"),
            Strings{"52:54:00:00:00:05"});
  // A parameter given twice is a list that replaces the default entirely.
  p = program(catalog({}), {{"clean-traffic", {{"IP", "10.0.0.7"}, {"IP", "10.0.0.8"}}}});
  EXPECT_EQ(values(p, "clean-traffic/no-ip-spoofing rule 2", "srcipaddr"),
            (Strings{"10.0.0.7", "10.0.0.8"}));
}

TEST(FilterInstantiate, FilterrefParametersApplyToTheirSubtreeOnly) {
  auto c = catalog({R"(<filter name='outer'>
  <rule action='accept' direction='out'><ip srcipaddr='$IP'/></rule>
  <filterref filter='inner'>
    <parameter name='IP' value='192.0.2.1'/>
    <parameter name='IP' value='192.0.2.2'/>
  </filterref>
  <rule action='accept' direction='in'><ip dstipaddr='$IP'/></rule>
</filter>)",
                    R"(<filter name='inner' chain='ipv4'>
  <rule action='return' direction='out'><ip srcipaddr='$IP'/></rule>
  <rule action='drop' direction='out'><ip srcmacaddr='$MAC'/></rule>
  <filterref filter='innermost'/>
</filter>)",
                    one_rule("innermost", "<ip dstipaddr='$IP'/>")});
  auto p = program(c, {{"outer", {{"IP", "10.0.0.9"}}}});
  // The reference's parameter replaces the binding's value below it...
  EXPECT_EQ(values(p, "outer/inner rule 1", "srcipaddr"), (Strings{"192.0.2.1", "192.0.2.2"}));
  EXPECT_EQ(values(p, "outer/inner/innermost rule 1", "dstipaddr"),
            (Strings{"192.0.2.1", "192.0.2.2"}));
  // ...variables it does not name are inherited...
  EXPECT_EQ(values(p, "outer/inner rule 2", "srcmacaddr"), Strings{"52:54:00:00:00:05"});
  // ...and the referencing filter keeps its own value, before and after the reference.
  EXPECT_EQ(values(p, "outer rule 1", "srcipaddr"), Strings{"10.0.0.9"});
  EXPECT_EQ(values(p, "outer rule 2", "dstipaddr"), Strings{"10.0.0.9"});
}

// ---- list variables and iterators ----

TEST(FilterInstantiate, ListVariableGivesOneRulePerValue) {
  auto c = catalog({one_rule("f", "<tcp srcipaddr='$SRC' dstportstart='22'/>")});
  auto p = program(c, {{"f", {{"SRC", "192.0.2.1"}, {"SRC", "192.0.2.2"}, {"SRC", "192.0.2.3"}}}});
  ASSERT_EQ(p.rules.size(), 3U);
  EXPECT_EQ(values(p, "f rule 1", "srcipaddr"), (Strings{"192.0.2.1", "192.0.2.2", "192.0.2.3"}));
  EXPECT_EQ(values(p, "f rule 1", "dstportstart"), (Strings{"22", "22", "22"}));
  for (const auto& r : p.rules) {
    EXPECT_EQ(r.origin, "f rule 1");  // the same origin for every expansion
    EXPECT_EQ(r.attrs.size(), 2U);
  }
}

// Issue 16: a plain $X is $X[@0], so two plain lists in one rule are walked in parallel, as
// libvirt does, not combined. The pairs (10.0.0.1, 8080) and (10.0.0.2, 80) are not allowed.
TEST(FilterInstantiate, TwoPlainListVariablesAreWalkedTogether) {
  auto c = catalog({one_rule("f", "<tcp srcipaddr='$A' dstportstart='$B'/>")});
  auto p = program(c, {{"f", {{"A", "10.0.0.1"}, {"A", "10.0.0.2"}, {"B", "80"}, {"B", "8080"}}}});
  EXPECT_EQ(pairs(p, "f rule 1", "srcipaddr", "dstportstart"),
            (Strings{"10.0.0.1|80", "10.0.0.2|8080"}));
}

TEST(FilterInstantiate, PlainListsOfDifferentLengthsAreAnError) {
  auto c = catalog({one_rule("f", "<tcp srcipaddr='$SRC' dstportstart='$PORT'/>")});
  auto e = only_error(run(c, {{"f",
                               {{"SRC", "192.0.2.1"},
                                {"SRC", "192.0.2.2"},
                                {"PORT", "80"},
                                {"PORT", "443"},
                                {"PORT", "8080"}}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=f]/rule[1]@dstportstart") << e.str();
  EXPECT_TRUE(contains(e.reason,
                       "$PORT (3 values) and $SRC (2 values) are walked together "
                       "plainly (iterator @0), so they must have as many values"))
      << e.reason;
  EXPECT_TRUE(contains(e.reason, "give them different iterators")) << e.reason;
}

TEST(FilterInstantiate, SameVariableTwiceInARuleTakesTheSameValue) {
  auto c = catalog({one_rule("f", "<tcp srcipaddr='$A' dstipaddr='$A'/>")});
  auto p = program(c, {{"f", {{"A", "192.0.2.1"}, {"A", "192.0.2.2"}}}});
  EXPECT_EQ(pairs(p, "f rule 1", "srcipaddr", "dstipaddr"),
            (Strings{"192.0.2.1|192.0.2.1", "192.0.2.2|192.0.2.2"}));
}

TEST(FilterInstantiate, SameIteratorMovesInLockstep) {
  auto c = catalog({one_rule("f", "<tcp srcipaddr='$SRC[@1]' dstportstart='$PORT[@1]'/>")});
  auto p = program(c, {{"f",
                        {{"SRC", "192.0.2.1"},
                         {"SRC", "192.0.2.2"},
                         {"SRC", "192.0.2.3"},
                         {"PORT", "80"},
                         {"PORT", "443"},
                         {"PORT", "8080"}}}});
  EXPECT_EQ(pairs(p, "f rule 1", "srcipaddr", "dstportstart"),
            (Strings{"192.0.2.1|80", "192.0.2.2|443", "192.0.2.3|8080"}));
}

TEST(FilterInstantiate, DifferentIteratorsGiveEveryCombination) {
  auto c = catalog({one_rule("f", "<tcp srcipaddr='$SRC[@1]' dstportstart='$PORT[@2]'/>")});
  auto p = program(
      c, {{"f", {{"SRC", "192.0.2.1"}, {"SRC", "192.0.2.2"}, {"PORT", "80"}, {"PORT", "443"}}}});
  auto got = pairs(p, "f rule 1", "srcipaddr", "dstportstart");
  EXPECT_EQ(got.size(), 4U);
  EXPECT_EQ(
      std::set<std::string>(got.begin(), got.end()),
      (std::set<std::string>{"192.0.2.1|80", "192.0.2.1|443", "192.0.2.2|80", "192.0.2.2|443"}));
}

TEST(FilterInstantiate, UnequalListsUnderOneIteratorAreAnError) {
  auto c = catalog({one_rule("f", "<tcp srcipaddr='$SRC[@1]' dstportstart='$PORT[@1]'/>")});
  auto e =
      only_error(run(c, {{"f", {{"SRC", "192.0.2.1"}, {"SRC", "192.0.2.2"}, {"PORT", "80"}}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=f]/rule[1]@dstportstart") << e.str();
  EXPECT_TRUE(contains(e.reason,
                       "walked together by iterator @1, so they must have as many "
                       "values"))
      << e.reason;
}

TEST(FilterInstantiate, IndexPicksOneElement) {
  auto c = catalog({one_rule("f", "<udp dstipaddr='$DNS[1]' dstportstart='53'/>")});
  auto p = program(c, {{"f", {{"DNS", "192.0.2.53"}, {"DNS", "198.51.100.53"}}}});
  EXPECT_EQ(values(p, "f rule 1", "dstipaddr"), Strings{"198.51.100.53"});
  // An index does not iterate: next to a list it does not multiply the rules.
  c = catalog({one_rule("g", "<udp srcipaddr='$SRC' dstipaddr='$DNS[0]'/>")});
  p = program(c, {{"g",
                   {{"DNS", "192.0.2.53"},
                    {"DNS", "198.51.100.53"},
                    {"SRC", "10.0.0.1"},
                    {"SRC", "10.0.0.2"}}}});
  EXPECT_EQ(pairs(p, "g rule 1", "srcipaddr", "dstipaddr"),
            (Strings{"10.0.0.1|192.0.2.53", "10.0.0.2|192.0.2.53"}));
}

TEST(FilterInstantiate, IndexOutOfRangeIsAnError) {
  auto c = catalog({one_rule("f", "<udp dstipaddr='$DNS[2]'/>")});
  auto e = only_error(run(c, {{"f", {{"DNS", "192.0.2.53"}, {"DNS", "198.51.100.53"}}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=f]/rule[1]@dstipaddr");
  EXPECT_TRUE(contains(e.reason, "$DNS[2]")) << e.reason;
  EXPECT_TRUE(contains(e.reason, "index out of range")) << e.reason;
  EXPECT_TRUE(contains(e.reason, "has 2 values")) << e.reason;
}

// ---- errors ----

TEST(FilterInstantiate, MissingVariableNamesVariableAndRule) {
  auto c = catalog({R"(<filter name='needs-gw'>
  <rule action='accept' direction='out'>
    <ip dstipaddr='$GATEWAY'/>
  </rule>
</filter>)"});
  auto e = only_error(run(c, {{"needs-gw", {}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=needs-gw]/rule[1]@dstipaddr");
  EXPECT_TRUE(contains(e.reason, "$GATEWAY")) << e.reason;
  EXPECT_EQ(e.where.file, "test.xml");
  EXPECT_EQ(e.where.line, 3);  // the element that uses it
}

TEST(FilterInstantiate, MissingVariableInAReferencedFilterNamesThatFilter) {
  const Variables no_ip{{"MAC", {"52:54:00:00:00:05"}}};
  auto c = catalog({});
  auto inst = run(c, {{"allow-arp", {}}, {"clean-traffic", {}}}, no_ip);
  ASSERT_FALSE(inst.ok());
  EXPECT_TRUE(inst.program.empty());
  // $IP is used by no-ip-spoofing and no-arp-ip-spoofing: one error each, for binding 2.
  ASSERT_EQ(inst.errors.size(), 2U) << errors_text(inst.errors);
  std::set<std::string> paths;
  for (const auto& d : inst.errors) {
    paths.insert(d.path);
    EXPECT_TRUE(contains(d.reason, "variable $IP has no value")) << d.reason;
  }
  EXPECT_EQ(paths, (std::set<std::string>{
                       "vm 'web' filter[2]: filter[name=no-ip-spoofing]/rule[2]@srcipaddr",
                       "vm 'web' filter[2]: filter[name=no-arp-ip-spoofing]/rule[1]@arpsrcipaddr",
                   }));
  for (const auto& d : inst.errors)
    EXPECT_TRUE(d.where.file == "builtin:no-ip-spoofing" ||
                d.where.file == "builtin:no-arp-ip-spoofing")
        << d.str();
}

TEST(FilterInstantiate, ValueNotValidForTheAttributeIsAnError) {
  auto c = catalog({one_rule("f", "<ip srcipaddr='$IP'/>")});
  auto e = only_error(run(c, {{"f", {{"IP", "x"}}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=f]/rule[1]@srcipaddr");
  EXPECT_EQ(e.reason, "$IP = 'x': 'x' is not an IPv4 address");

  c = catalog({one_rule("g", "<tcp dstportstart='$PORT'/>")});
  e = only_error(run(c, {{"g", {{"PORT", "80"}, {"PORT", "70000"}}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=g]/rule[1]@dstportstart");
  EXPECT_TRUE(contains(e.reason, "'70000' is out of range")) << e.reason;

  e = only_error(run(catalog({}), {{"no-mac-spoofing", {{"MAC", "10.0.0.1"}}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=no-mac-spoofing]/rule[1]@srcmacaddr");
  EXPECT_TRUE(contains(e.reason, "is not a MAC address")) << e.reason;
}

TEST(FilterInstantiate, IpsetIsUnsupported) {
  auto c = catalog({one_rule("f", "<tcp ipset='blocked' ipsetflags='src' dstportstart='22'/>")});
  auto inst = run(c, {{"f", {}}});
  ASSERT_EQ(inst.errors.size(), 2U) << errors_text(inst.errors);  // ipset and ipsetflags
  EXPECT_EQ(inst.errors[0].path, "vm 'web' filter[1]: filter[name=f]/rule[1]@ipset");
  EXPECT_EQ(inst.errors[1].path, "vm 'web' filter[1]: filter[name=f]/rule[1]@ipsetflags");
  for (const auto& d : inst.errors)
    EXPECT_TRUE(contains(d.reason, "ipset is not supported")) << d.reason;
  EXPECT_TRUE(inst.program.empty());
}

TEST(FilterInstantiate, UnknownFilter) {
  auto e = only_error(run(catalog({}), {{"clean-trafic", {}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]");
  EXPECT_EQ(e.reason, "unknown filter 'clean-trafic'");

  // Unknown further down: located at the reference, with the chain of filters.
  auto c = catalog({"<filter name='top'><filterref filter='missing'/></filter>"});
  e = only_error(run(c, {{"top", {}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=top]/filterref[1]");
  EXPECT_EQ(e.reason, "unknown filter 'missing' (top -> missing)");
}

TEST(FilterInstantiate, ReferenceLoop) {
  auto c = catalog({"<filter name='a'><filterref filter='b'/></filter>",
                    "<filter name='b'><filterref filter='a'/></filter>"});
  auto e = only_error(run(c, {{"allow-arp", {}}, {"a", {}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[2]: filter[name=b]/filterref[1]");
  EXPECT_EQ(e.reason, "loop: a -> b -> a");
}

TEST(FilterInstantiate, BadParameterName) {
  auto e = only_error(run(catalog({}), {{"allow-arp", {{"1IP", "10.0.0.1"}}}}));
  EXPECT_EQ(e.path, "vm 'web' filter[1].params");
  EXPECT_TRUE(contains(e.reason, "'1IP' is not a variable name")) << e.reason;
}

// ---- the shape of the program ----

TEST(FilterInstantiate, SubChainsAreRecordedWithTheirPriorities) {
  auto p = program(catalog({}), {{"clean-traffic", {}}});
  EXPECT_EQ(p.chains, (std::vector<SubChain>{{"mac", -800},
                                             {"ipv4-ip", -710},
                                             {"ipv4", -700},
                                             {"arp-mac", -520},
                                             {"arp-ip", -510},
                                             {"rarp", -400}}));
  // A chain reached twice (two bindings, or two references) is recorded once; a filter's
  // explicit priority is its chain's.
  auto c =
      catalog({"<filter name='web' chain='ipv4-web' priority='-300'>"
               "<rule action='accept' direction='in'/></filter>"});
  p = program(c, {{"allow-ipv4", {}}, {"web", {}}, {"allow-incoming-ipv4", {}}});
  EXPECT_EQ(p.chains, (std::vector<SubChain>{{"ipv4", -700}, {"ipv4-web", -300}}));
}

TEST(FilterInstantiate, LayersFollowLibvirtsSplit) {
  auto c = catalog({R"(<filter name='layers'>
  <rule action='accept' direction='out'><mac protocolid='ipv4'/></rule>
  <rule action='accept' direction='out'><arp opcode='Request'/></rule>
  <rule action='accept' direction='out'><ip protocol='udp'/></rule>
  <rule action='accept' direction='out'><tcp dstportstart='22'/></rule>
  <rule action='accept' direction='out'><all/></rule>
  <rule action='drop' direction='out'/>
  <rule action='accept' direction='out'><icmp/></rule>
  <rule action='accept' direction='out'><ipv6/></rule>
</filter>)",
                    R"(<filter name='in-ipv4' chain='ipv4'>
  <rule action='accept' direction='in'><udp dstportstart='53'/></rule>
  <rule action='accept' direction='in'/>
</filter>)"});
  auto p = program(c, {{"layers", {}}, {"in-ipv4", {}}});
  auto describe = [&](const std::string& origin) {
    auto rules = with_origin(p, origin);
    if (rules.size() != 1) return std::string("missing");
    return std::string(rules[0]->layer == Layer::l2 ? "l2 " : "l3 ") + rules[0]->chain;
  };
  EXPECT_EQ(describe("layers rule 1"), "l2 root");   // mac
  EXPECT_EQ(describe("layers rule 2"), "l2 root");   // arp
  EXPECT_EQ(describe("layers rule 3"), "l2 root");   // ip
  EXPECT_EQ(describe("layers rule 4"), "l3 root");   // tcp
  EXPECT_EQ(describe("layers rule 5"), "l3 root");   // all
  EXPECT_EQ(describe("layers rule 6"), "l2 root");   // no protocol element
  EXPECT_EQ(describe("layers rule 7"), "l3 root");   // icmp
  EXPECT_EQ(layer_of(Protocol::icmpv6), Layer::l3);  // (binding it is refused: below)
  EXPECT_EQ(describe("layers rule 8"), "l2 root");   // ipv6
  // An l3 rule leaves its filter's chain: layer 3 is one list per direction.
  EXPECT_EQ(describe("in-ipv4 rule 1"), "l3 root");
  EXPECT_EQ(describe("in-ipv4 rule 2"), "l2 ipv4");
  EXPECT_FALSE(with_origin(p, "layers rule 6")[0]->protocol.has_value());
  EXPECT_EQ(layer_of(Protocol::stp), Layer::l2);
  EXPECT_EQ(layer_of(Protocol::vlan), Layer::l2);
  EXPECT_EQ(layer_of(Protocol::rarp), Layer::l2);
  EXPECT_EQ(layer_of(Protocol::udp_ipv6), Layer::l3);
  EXPECT_EQ(layer_of(Protocol::esp), Layer::l3);

  // Program order: l2 by (chain, priority), then l3; written order within.
  Strings order;
  for (const auto& r : p.rules) order.push_back(r.origin);
  EXPECT_EQ(order, (Strings{"in-ipv4 rule 2", "layers rule 1", "layers rule 2", "layers rule 3",
                            "layers rule 6", "layers rule 8", "layers rule 4", "layers rule 5",
                            "layers rule 7", "in-ipv4 rule 1"}));
}

TEST(FilterInstantiate, RulesSortByPriorityAndKeepWrittenOrderOnTies) {
  auto c = catalog({R"(<filter name='prios'>
  <rule action='accept' direction='in' priority='300'><tcp dstportstart='1'/></rule>
  <rule action='accept' direction='in' priority='100'><tcp dstportstart='2'/></rule>
  <rule action='accept' direction='in' priority='300'><tcp dstportstart='3'/></rule>
  <rule action='accept' direction='in' priority='-100'><tcp dstportstart='4'/></rule>
  <filterref filter='more'/>
  <rule action='accept' direction='in' priority='100'><tcp dstportstart='5'/></rule>
</filter>)",
                    R"(<filter name='more'>
  <rule action='accept' direction='in' priority='100'><tcp dstportstart='6'/></rule>
</filter>)",
                    one_rule("second", "<tcp dstportstart='7'/>")});
  auto p = program(c, {{"second", {}}, {"prios", {}}});
  Strings ports;
  for (const auto& r : p.rules) ports.push_back(r.find("dstportstart")->value);
  // Ties: depth-first expansion order (6 comes from the reference written before 5), and
  // bindings in their order (7, priority 500, from the first binding, after 300s).
  EXPECT_EQ(ports, (Strings{"4", "2", "6", "5", "1", "3", "7"}));
  EXPECT_EQ(p.rules.front().priority, -100);
  EXPECT_EQ(p.rules.back().priority, kDefaultRulePriority);
}

// "jump <chain>" or the origin of a rule, for each step of root.
Strings steps(const Program& p, Direction d) {
  Strings out;
  for (const auto& s : root_steps(p, d))
    out.push_back(s.jump ? "jump " + s.jump->name : s.rule->origin);
  return out;
}

TEST(FilterInstantiate, RootStepsInterleaveJumpsAndRulesByPriority) {
  auto p = program(catalog({}), {{"clean-traffic", {}}});
  EXPECT_EQ(steps(p, Direction::out), (Strings{"jump mac",                                 // -800
                                               "jump ipv4-ip",                             // -710
                                               "jump ipv4",                                // -700
                                               "clean-traffic rule 1",                     // -650
                                               "jump arp-mac",                             // -520
                                               "jump arp-ip",                              // -510
                                               "clean-traffic rule 2",                     // -500
                                               "jump rarp",                                // -400
                                               "clean-traffic/qemu-announce-self rule 1",  // 500
                                               "clean-traffic/no-other-l2-traffic rule 1"}));
  // Rules of the other direction are left out; jumps stay (their chains filter by direction).
  EXPECT_EQ(
      steps(p, Direction::in),
      (Strings{"jump mac", "jump ipv4-ip", "jump ipv4", "jump arp-mac", "jump arp-ip",
               "clean-traffic rule 2", "jump rarp", "clean-traffic/no-other-l2-traffic rule 1"}));
  // rules_of: one sub-chain in one direction, in evaluation order.
  Strings mac;
  for (const auto* r : rules_of(p, Layer::l2, "mac", Direction::out)) mac.push_back(r->origin);
  EXPECT_EQ(mac, (Strings{"clean-traffic/no-mac-spoofing rule 1",
                          "clean-traffic/no-mac-spoofing rule 2"}));
  EXPECT_TRUE(rules_of(p, Layer::l2, "mac", Direction::in).empty());
  EXPECT_TRUE(rules_of(p, Layer::l3, "root", Direction::out).empty());
}

TEST(FilterInstantiate, AtEqualPriorityAJumpComesBeforeRootRules) {
  auto c = catalog({R"(<filter name='tie'>
  <rule action='drop' direction='out' priority='-700'><mac protocolid='ipv4'/></rule>
  <filterref filter='allow-ipv4'/>
  <rule action='drop' direction='out' priority='-700'/>
</filter>)"});
  auto p = program(c, {{"tie", {}}});
  EXPECT_EQ(steps(p, Direction::out), (Strings{"jump ipv4", "tie rule 1", "tie rule 2"}));
}

TEST(FilterInstantiate, RuleWithSeveralElementsKeepsAllAttributes) {
  auto c = catalog({R"(<filter name='arp-pair' chain='arp'>
  <rule action='drop' direction='out' priority='200'>
    <arp opcode='Reply'/>
    <arp match='no' arpdstmacaddr='$MAC' arpdstipaddr='$GW[@1]'/>
  </rule>
</filter>)"});
  auto p = program(c, {{"arp-pair", {{"GW", "10.0.0.1"}}}});
  ASSERT_EQ(p.rules.size(), 1U);
  const auto& r = p.rules[0];
  EXPECT_EQ(r.protocol, Protocol::arp);
  EXPECT_EQ(r.chain, "arp");
  EXPECT_EQ(r.priority, 200);
  // Every value is the VM's (Attr::per_vm): a literal of the operator's filter, or a variable.
  EXPECT_EQ(r.attrs, (std::vector<Attr>{{"opcode", "Reply", true, true},
                                        {"arpdstmacaddr", "52:54:00:00:00:05", false, true},
                                        {"arpdstipaddr", "10.0.0.1", false, true}}));
  // Lists in either element iterate the whole rule. ($GW has an iterator of its own: next to
  // the single $MAC, a plain $GW list would be refused, as libvirt refuses it.)
  p = program(c, {{"arp-pair", {{"GW", "10.0.0.1"}, {"GW", "10.0.0.2"}}}});
  EXPECT_EQ(values(p, "arp-pair rule 1", "arpdstipaddr"), (Strings{"10.0.0.1", "10.0.0.2"}));
  EXPECT_EQ(values(p, "arp-pair rule 1", "opcode"), (Strings{"Reply", "Reply"}));
}

TEST(FilterInstantiate, RuleFieldsAreCarriedOver) {
  auto c = catalog({R"(<filter name='f'>
  <rule action='reject' direction='inout' priority='-20' statematch='false' log='yes'>
    <tcp match='no' dstportstart='22' srcipaddr='10.0.0.0' srcipmask='8'/>
  </rule>
</filter>)"});
  auto p = program(c, {{"f", {}}});
  ASSERT_EQ(p.rules.size(), 1U);
  const auto& r = p.rules[0];
  EXPECT_EQ(r.action, Action::reject);
  EXPECT_EQ(r.direction, Direction::inout);
  EXPECT_TRUE(r.applies_to(Direction::in));
  EXPECT_TRUE(r.applies_to(Direction::out));
  EXPECT_EQ(r.priority, -20);
  EXPECT_FALSE(r.statematch);
  EXPECT_TRUE(r.log);
  EXPECT_EQ(r.layer, Layer::l3);
  // match='no' negates every attribute but masks.
  EXPECT_EQ(r.attrs, (std::vector<Attr>{{"dstportstart", "22", false, true},
                                        {"srcipaddr", "10.0.0.0", false, true},
                                        {"srcipmask", "8", true, true}}));
}

TEST(FilterInstantiate, BuiltinLiteralsAreTheFiltersAndVariablesTheVms) {
  auto c = catalog({R"(<filter name='mine'>
  <filterref filter='no-ip-spoofing'/>
</filter>)"});
  auto p = program(c, {{"mine", {}}}, {{"IP", {"10.0.0.5"}}});
  bool literal = false, variable = false;
  for (const auto& r : p.rules)
    for (const auto& a : r.attrs) {
      if (a.name == "srcipaddr" && a.value == "0.0.0.0") literal = !a.per_vm;
      if (a.name == "srcipaddr" && a.value == "10.0.0.5") variable = a.per_vm;
    }
  EXPECT_TRUE(literal) << "no-ip-spoofing's own 0.0.0.0 stays the program's";
  EXPECT_TRUE(variable) << "$IP is the VM's";
}

TEST(FilterInstantiate, OriginsNameTheFilterPathAndRulePosition) {
  auto p = program(catalog({}), {{"clean-traffic", {}}});
  std::set<std::string> origins;
  for (const auto& r : p.rules) origins.insert(r.origin);
  EXPECT_EQ(origins, (std::set<std::string>{
                         "clean-traffic rule 1",
                         "clean-traffic rule 2",
                         "clean-traffic/no-mac-spoofing rule 1",
                         "clean-traffic/no-mac-spoofing rule 2",
                         "clean-traffic/no-ip-spoofing rule 1",
                         "clean-traffic/no-ip-spoofing rule 2",
                         "clean-traffic/no-ip-spoofing rule 3",
                         "clean-traffic/allow-incoming-ipv4 rule 1",
                         "clean-traffic/no-arp-spoofing/no-arp-mac-spoofing rule 1",
                         "clean-traffic/no-arp-spoofing/no-arp-mac-spoofing rule 2",
                         "clean-traffic/no-arp-spoofing/no-arp-ip-spoofing rule 1",
                         "clean-traffic/no-arp-spoofing/no-arp-ip-spoofing rule 2",
                         "clean-traffic/no-other-l2-traffic rule 1",
                         "clean-traffic/qemu-announce-self rule 1",
                         "clean-traffic/qemu-announce-self/qemu-announce-self-rarp rule 1",
                         "clean-traffic/qemu-announce-self/qemu-announce-self-rarp rule 2",
                         "clean-traffic/qemu-announce-self/no-other-rarp-traffic rule 1",
                     }));
  // Rules are counted per filter, references are not: the rule after two references is rule 1.
  ASSERT_EQ(with_origin(p, "clean-traffic rule 1").size(), 1U);
  EXPECT_EQ(with_origin(p, "clean-traffic rule 1")[0]->priority, -650);
}

TEST(FilterInstantiate, NoBindingsNoRules) {
  auto inst = run(catalog({}), {});
  EXPECT_TRUE(inst.ok());
  EXPECT_TRUE(inst.program.empty());
  EXPECT_TRUE(inst.program.chains.empty());
}

TEST(FilterInstantiate, ExpansionIsBounded) {
  auto c = catalog(
      {one_rule("f", "<tcp srcipaddr='$A[@1]' dstipaddr='$B[@2]' dstportstart='$C[@3]'/>")});
  Params params;
  for (int i = 0; i < 17; ++i) {
    params.emplace_back("A", "10.0.0." + std::to_string(i));
    params.emplace_back("B", "10.0.1." + std::to_string(i));
    params.emplace_back("C", std::to_string(1000 + i));
  }
  auto e = only_error(run(c, {{"f", params}}));  // 17^3 = 4913 rules
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=f]/rule[1]");
  EXPECT_TRUE(contains(e.reason, "over the limit rules_per_filter (4096)")) << e.reason;
}

// Two 64-value lists under two iterators in one rule: 4 096 rules. The 1 391-byte request of the
// hardening issue had ten such rules (40 960 rules, 1.75 GB, no answer for 6 s): refused at the
// second, nothing kept.
std::string lists_filter(const std::string& name, int rules) {
  std::string x = "<filter name='" + name + "'>\n";
  for (int i = 0; i < rules; ++i)
    x += "  <rule action='accept' direction='in'>"
         "<tcp srcipaddr='$A[@1]' dstportstart='$B[@2]'/></rule>\n";
  return x + "</filter>";
}

Params two_lists(int n) {
  Params params;
  for (int i = 0; i < n; ++i) {
    params.emplace_back("A", "10.0." + std::to_string(i / 250) + "." + std::to_string(i % 250));
    params.emplace_back("B", std::to_string(1000 + i));
  }
  return params;
}

TEST(FilterInstantiate, ARuleAfterTheFilterBudgetIsRefusedAndNothingIsKept) {
  auto c = catalog({lists_filter("f", 10)});
  auto inst = run(c, {{"f", two_lists(64)}});
  auto e = only_error(inst);
  EXPECT_EQ(e.path, "vm 'web' filter[1]: filter[name=f]/rule[2]");
  EXPECT_TRUE(contains(e.reason, "rules_per_filter")) << e.reason;
  EXPECT_TRUE(inst.program.empty());
}

TEST(FilterInstantiate, AVmsBindingsShareOneBudget) {
  auto c = catalog({lists_filter("f", 1)});
  std::vector<Binding> b(3, Binding{"f", two_lists(64)});  // 4 096 rules each
  auto e = only_error(run(c, b));
  EXPECT_EQ(e.path, "vm 'web' filter[3]: filter[name=f]/rule[1]");
  EXPECT_TRUE(contains(e.reason, "over the limit rules_per_vm (8192)")) << e.reason;
  // Two fit.
  b.pop_back();
  EXPECT_EQ(program(c, b).rules.size(), 8192U);
}

TEST(FilterInstantiate, AListVariableHasABoundedNumberOfValues) {
  auto c = catalog({one_rule("f", "<tcp srcipaddr='$A[0]'/>")});
  Params params;
  for (int i = 0; i <= 1024; ++i)
    params.emplace_back("A", "10.1." + std::to_string(i / 250) + "." + std::to_string(i % 250));
  auto e = only_error(run(c, {{"f", params}}));
  EXPECT_TRUE(contains(e.reason, "over the limit values_per_variable (1024): $A has 1025 values"))
      << e.reason;
  params.pop_back();
  EXPECT_TRUE(run(c, {{"f", params}}).ok());
}

TEST(FilterInstantiate, AVmHasABoundedNumberOfFilters) {
  auto c = catalog({one_rule("f", "<tcp dstportstart='22'/>")});
  std::vector<Binding> b(33, Binding{"f", {}});
  auto e = only_error(run(c, b));
  EXPECT_EQ(e.path, "vm 'web' filters");
  EXPECT_TRUE(contains(e.reason, "over the limit filters_per_vm (32)")) << e.reason;
  b.pop_back();
  EXPECT_TRUE(run(c, b).ok());
}

// Without any list: a filter referring to the next one twice, 30 deep, would be entered 2^30
// times. The visits are counted, so this ends at once.
TEST(FilterInstantiate, FilterReferencesThatFanOutAreBounded) {
  std::vector<std::string> xmls;
  for (int i = 0; i < 30; ++i) {
    std::string next = "d" + std::to_string(i + 1);
    xmls.push_back("<filter name='d" + std::to_string(i) + "'><filterref filter='" + next +
                   "'/><filterref filter='" + next + "'/></filter>");
  }
  xmls.push_back(one_rule("d30", "<tcp dstportstart='22'/>"));
  FilterCatalog c = builtin_catalog();
  for (const auto& x : xmls) c.add_or_replace(parse_ok(x, "test.xml"));
  auto e = only_error(run(c, {{"d0", {}}}));
  EXPECT_TRUE(contains(e.reason, "over the limit filter_visits_per_vm (1024)")) << e.reason;
}

}  // namespace
}  // namespace vmgw::filter

namespace vmgw::filter {
namespace {

// IPv6 at the IP layer is not enforced yet: binding such a rule is refused, never accepted
// without effect. IPv6 at layer 2 (<ipv6>) is enforced and stays accepted.
TEST(FilterInstantiate, IpLayerIpv6RulesAreRefusedWithTheReason) {
  for (const char* element : {"<tcp-ipv6 dstportstart='22'/>", "<udp-ipv6 dstportstart='53'/>",
                              "<icmpv6 type='128'/>", "<all-ipv6/>"}) {
    auto c = catalog({one_rule("v6", element)});
    auto e = only_error(run(c, {{"v6", {}}}));
    EXPECT_TRUE(contains(e.reason, "rules are not enforced by vmgw yet")) << e.reason;
    EXPECT_TRUE(contains(e.path, "filter[name=v6]/rule[1]")) << e.path;
  }
  auto layer2 = catalog({one_rule("v6l2", "<ipv6 protocol='tcp' dstportstart='22'/>")});
  EXPECT_TRUE(run(layer2, {{"v6l2", {}}}).ok());
}

}  // namespace
}  // namespace vmgw::filter
