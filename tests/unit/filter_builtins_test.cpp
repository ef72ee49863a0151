// The built-in filters: they parse, resolve, round-trip through dumpxml, and have libvirt's
// names, chains, chain priorities, rules (action, direction, priority, protocol) and variables.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "../filter/corpus.h"
#include "filter/builtins.h"
#include "filter/parse.h"
#include "filter/serialize.h"

namespace vmgw::filter {
namespace {

using testing::errors_text;

// What libvirt ships, and what each one is: chain, effective chain priority, its entries in
// order ("action direction priority protocol" for a rule, "-> name" for a reference) and the
// variables its own rules use.
struct Expected {
  std::string chain;
  int priority;
  std::vector<std::string> entries;
  std::set<std::string> variables;
};

const std::map<std::string, Expected>& expected() {
  static const std::map<std::string, Expected> e{
      {"allow-arp", {"arp", -500, {"accept inout 500 -"}, {}}},
      {"allow-dhcp", {"ipv4", -700, {"accept out 100 ip", "accept in 100 ip"}, {}}},
      {"allow-dhcp-server",
       {"ipv4", -700, {"accept out 100 ip", "accept in 100 ip"}, {"DHCPSERVER"}}},
      {"allow-dhcpv6", {"ipv6", -600, {"accept out 100 ipv6", "accept in 100 ipv6"}, {}}},
      {"allow-dhcpv6-server",
       {"ipv6", -600, {"accept out 100 ipv6", "accept in 100 ipv6"}, {"DHCPSERVER"}}},
      {"allow-incoming-ipv4", {"ipv4", -700, {"accept in 500 -"}, {}}},
      {"allow-incoming-ipv6", {"ipv6", -600, {"accept in 500 -"}, {}}},
      {"allow-ipv4", {"ipv4", -700, {"accept inout 500 -"}, {}}},
      {"allow-ipv6", {"ipv6", -600, {"accept inout 500 -"}, {}}},
      {"clean-traffic",
       {"root",
        0,
        {"-> no-mac-spoofing", "-> no-ip-spoofing", "accept out -650 mac", "-> allow-incoming-ipv4",
         "-> no-arp-spoofing", "accept inout -500 mac", "-> no-other-l2-traffic",
         "-> qemu-announce-self"},
        {}}},
      {"clean-traffic-gateway",
       {"root",
        0,
        {"-> no-mac-spoofing", "-> no-ip-spoofing", "-> no-arp-spoofing", "accept inout -500 mac",
         "accept in 500 mac", "accept out 500 mac", "-> no-other-l2-traffic",
         "-> qemu-announce-self-rarp"},
        {"GATEWAY_MAC"}}},
      {"no-arp-ip-spoofing", {"arp-ip", -510, {"return out 400 arp", "drop out 1000 -"}, {"IP"}}},
      {"no-arp-mac-spoofing",
       {"arp-mac", -520, {"return out 350 arp", "drop out 1000 -"}, {"MAC"}}},
      {"no-arp-spoofing", {"root", 0, {"-> no-arp-mac-spoofing", "-> no-arp-ip-spoofing"}, {}}},
      {"no-ip-multicast", {"ipv4", -700, {"drop out 500 ip"}, {}}},
      {"no-ip-spoofing",
       {"ipv4-ip", -710, {"return out 100 ip", "return out 500 ip", "drop out 1000 -"}, {"IP"}}},
      {"no-ipv6-multicast", {"ipv6", -600, {"drop out 500 ipv6"}, {}}},
      {"no-ipv6-spoofing",
       {"ipv6-ip",
        -610,
        {"return out 100 ipv6", "return out 500 ipv6", "drop out 1000 -"},
        {"IPV6"}}},
      {"no-mac-broadcast", {"ipv4", -700, {"drop out 500 mac"}, {}}},
      {"no-mac-spoofing", {"mac", -800, {"return out 500 mac", "drop out 500 -"}, {"MAC"}}},
      {"no-other-l2-traffic", {"root", 0, {"drop inout 1000 -"}, {}}},
      {"no-other-rarp-traffic", {"rarp", -400, {"drop inout 1000 -"}, {}}},
      {"qemu-announce-self",
       {"root",
        0,
        {"accept out 500 mac", "-> qemu-announce-self-rarp", "-> no-other-rarp-traffic"},
        {}}},
      {"qemu-announce-self-rarp",
       {"rarp", -400, {"accept out 500 rarp", "accept in 500 rarp"}, {"MAC"}}},
  };
  return e;
}

std::string describe(const Entry& e) {
  if (const auto* ref = std::get_if<FilterRef>(&e)) return "-> " + ref->filter;
  const auto& r = std::get<Rule>(e);
  std::string out = std::string(to_string(r.action)) + " " + std::string(to_string(r.direction)) +
                    " " + std::to_string(r.effective_priority()) + " ";
  return out + (r.matches.empty() ? "-" : std::string(to_string(r.matches.front().protocol)));
}

std::set<std::string> variables(const Filter& f) {
  std::set<std::string> out;
  for (const auto& e : f.entries)
    if (const auto* r = std::get_if<Rule>(&e))
      for (const auto& m : r->matches)
        for (const auto& [name, value] : m.attributes)
          if (value.var) out.insert(value.var->name);
  return out;
}

Filter parse_builtin(const BuiltinFilter& b) {
  auto r = parse_filter_xml(std::string(b.xml), "builtin:" + std::string(b.name));
  EXPECT_TRUE(r.ok()) << errors_text(r.errors);
  return r.filter.value_or(Filter{});
}

TEST(FilterBuiltins, NamesAreLibvirtsSorted) {
  std::vector<std::string> names;
  for (const auto& b : builtin_filters()) names.emplace_back(b.name);
  std::vector<std::string> want;
  for (const auto& [name, e] : expected()) want.push_back(name);  // a std::map: sorted
  EXPECT_EQ(names, want);
  EXPECT_EQ(names.size(), 24U);
}

TEST(FilterBuiltins, IsBuiltin) {
  EXPECT_TRUE(is_builtin("clean-traffic"));
  EXPECT_TRUE(is_builtin("allow-arp"));
  EXPECT_TRUE(is_builtin("qemu-announce-self-rarp"));
  EXPECT_FALSE(is_builtin("clean"));
  EXPECT_FALSE(is_builtin("clean-traffic-"));
  EXPECT_FALSE(is_builtin(""));
}

TEST(FilterBuiltins, EveryOneParsesUnderItsName) {
  for (const auto& b : builtin_filters()) {
    SCOPED_TRACE(std::string(b.name));
    Filter f = parse_builtin(b);
    EXPECT_EQ(f.name, b.name);
    EXPECT_FALSE(b.summary.empty());
    EXPECT_FALSE(f.entries.empty());
  }
}

TEST(FilterBuiltins, CatalogHoldsEveryOneAndResolves) {
  FilterCatalog c = builtin_catalog();
  EXPECT_EQ(c.size(), builtin_filters().size());
  EXPECT_TRUE(c.check_all().empty()) << errors_text(c.check_all());
  for (const auto& b : builtin_filters()) {
    const Filter* f = c.lookup(b.name);
    ASSERT_NE(f, nullptr) << b.name;
    EXPECT_EQ(f->file.path, "builtin:" + std::string(b.name));
  }
  // users_of sees the references between built-ins.
  EXPECT_EQ(c.users_of("no-other-l2-traffic"),
            (std::vector<std::string>{"clean-traffic", "clean-traffic-gateway"}));
}

TEST(FilterBuiltins, DumpxmlRoundTrips) {
  for (const auto& b : builtin_filters()) {
    SCOPED_TRACE(std::string(b.name));
    Filter f = parse_builtin(b);
    std::string xml = filter_to_xml(f);
    auto again = parse_filter_xml(xml, "dump.xml");
    ASSERT_TRUE(again.ok()) << errors_text(again.errors) << xml;
    EXPECT_EQ(*again.filter, f) << xml;
    EXPECT_EQ(filter_to_xml(*again.filter), xml);
  }
}

TEST(FilterBuiltins, ChainsAndPrioritiesAreLibvirts) {
  for (const auto& b : builtin_filters()) {
    SCOPED_TRACE(std::string(b.name));
    Filter f = parse_builtin(b);
    const Expected& e = expected().at(std::string(b.name));
    EXPECT_EQ(f.effective_chain(), e.chain);
    EXPECT_EQ(f.effective_priority(), e.priority);
  }
}

TEST(FilterBuiltins, RulesAndReferencesAreLibvirts) {
  for (const auto& b : builtin_filters()) {
    SCOPED_TRACE(std::string(b.name));
    Filter f = parse_builtin(b);
    std::vector<std::string> got;
    for (const auto& e : f.entries) got.push_back(describe(e));
    EXPECT_EQ(got, expected().at(std::string(b.name)).entries);
  }
}

TEST(FilterBuiltins, VariablesAreTheDocumentedOnes) {
  for (const auto& b : builtin_filters()) {
    SCOPED_TRACE(std::string(b.name));
    EXPECT_EQ(variables(parse_builtin(b)), expected().at(std::string(b.name)).variables);
  }
}

// The whole tree under clean-traffic: every filter it reaches, and so the variables a VM must
// supply (IP; MAC is the VM's own).
TEST(FilterBuiltins, CleanTrafficTree) {
  FilterCatalog c = builtin_catalog();
  std::set<std::string> reached;
  std::set<std::string> vars;
  std::vector<std::string> todo{"clean-traffic"};
  while (!todo.empty()) {
    std::string name = todo.back();
    todo.pop_back();
    if (!reached.insert(name).second) continue;
    const Filter* f = c.lookup(name);
    ASSERT_NE(f, nullptr) << name;
    for (const auto& v : variables(*f)) vars.insert(v);
    for (const auto& e : f->entries)
      if (const auto* ref = std::get_if<FilterRef>(&e)) todo.push_back(ref->filter);
  }
  EXPECT_EQ(reached, (std::set<std::string>{"clean-traffic", "no-mac-spoofing", "no-ip-spoofing",
                                            "allow-incoming-ipv4", "no-arp-spoofing",
                                            "no-arp-mac-spoofing", "no-arp-ip-spoofing",
                                            "no-other-l2-traffic", "qemu-announce-self",
                                            "qemu-announce-self-rarp", "no-other-rarp-traffic"}));
  EXPECT_EQ(vars, (std::set<std::string>{"IP", "MAC"}));
}

// A few rules in detail, where the exact match is the point of the filter.
TEST(FilterBuiltins, KeyMatches) {
  FilterCatalog c = builtin_catalog();
  auto rule = [&](std::string_view filter, std::size_t i) -> const Rule& {
    return std::get<Rule>(c.lookup(filter)->entries.at(i));
  };
  auto attr = [](const Rule& r, std::string_view name) {
    const AttrValue* v = r.matches.at(0).find(name);
    return v ? v->raw : std::string("<absent>");
  };
  EXPECT_EQ(attr(rule("no-mac-spoofing", 0), "srcmacaddr"), "$MAC");
  EXPECT_EQ(attr(rule("no-ip-spoofing", 0), "srcipaddr"), "0.0.0.0");
  EXPECT_EQ(attr(rule("no-ip-spoofing", 0), "protocol"), "udp");
  EXPECT_EQ(attr(rule("no-ip-spoofing", 1), "srcipaddr"), "$IP");
  EXPECT_EQ(attr(rule("no-arp-ip-spoofing", 0), "arpsrcipaddr"), "$IP");
  EXPECT_EQ(attr(rule("no-arp-mac-spoofing", 0), "arpsrcmacaddr"), "$MAC");
  EXPECT_EQ(attr(rule("allow-dhcp-server", 1), "srcipaddr"), "$DHCPSERVER");
  EXPECT_EQ(attr(rule("allow-dhcp-server", 1), "srcportstart"), "67");
  EXPECT_EQ(attr(rule("allow-dhcp", 0), "dstipaddr"), "255.255.255.255");
  EXPECT_EQ(attr(rule("allow-dhcpv6", 0), "dstipaddr"), "ff02::1:2");
  EXPECT_EQ(attr(rule("no-ip-multicast", 0), "dstipaddr"), "224.0.0.0");
  EXPECT_EQ(attr(rule("no-ip-multicast", 0), "dstipmask"), "4");
  EXPECT_EQ(attr(rule("no-ipv6-multicast", 0), "dstipmask"), "8");
  EXPECT_EQ(attr(rule("no-mac-broadcast", 0), "dstmacaddr"), "ff:ff:ff:ff:ff:ff");
  EXPECT_EQ(attr(rule("clean-traffic", 2), "protocolid"), "ipv4");
  EXPECT_EQ(attr(rule("clean-traffic", 5), "protocolid"), "arp");
  EXPECT_EQ(attr(rule("clean-traffic-gateway", 4), "srcmacaddr"), "$GATEWAY_MAC");
  EXPECT_EQ(attr(rule("clean-traffic-gateway", 5), "dstmacaddr"), "$GATEWAY_MAC");
  EXPECT_EQ(attr(rule("qemu-announce-self", 0), "protocolid"), "0x835");
  EXPECT_EQ(attr(rule("qemu-announce-self-rarp", 0), "opcode"), "Request_Reverse");
  EXPECT_EQ(attr(rule("qemu-announce-self-rarp", 1), "srcmacaddr"), "<absent>");
  // No built-in negates anything or logs.
  for (const auto& name : c.names())
    for (const auto& e : c.lookup(name)->entries)
      if (const auto* r = std::get_if<Rule>(&e)) {
        EXPECT_FALSE(r->logs()) << name;
        for (const auto& m : r->matches) EXPECT_FALSE(m.negated()) << name;
      }
}

}  // namespace
}  // namespace vmgw::filter
