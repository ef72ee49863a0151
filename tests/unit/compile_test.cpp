#include "compile/compile.h"
#include "compile/drop_log.h"

#include <gtest/gtest.h>

#include "compile/plan_text.h"
#include "nft/text.h"
#include "test_support.h"

namespace vmgw {
namespace {

using testing::kSmallGateway;
using testing::valid_config;

const nft::Set& set(const Plan& p, const std::string& name) {
  const auto* s = p.table.find_set(name);
  if (!s) throw std::runtime_error("no set " + name);
  return *s;
}

std::vector<std::string> element_texts(const Plan& p, const std::string& name) {
  std::vector<std::string> out;
  for (const auto& e : set(p, name).elements) out.push_back(nft::element_text(set(p, name), e));
  return out;
}

TEST(Compile, SameInputSameBytes) {
  EXPECT_EQ(plan_text(compile(valid_config(kSmallGateway))),
            plan_text(compile(valid_config(kSmallGateway))));
  EXPECT_EQ(plan_json(compile(valid_config(kSmallGateway))).dump(),
            plan_json(compile(valid_config(kSmallGateway))).dump());
}

TEST(Compile, InputOrderDoesNotChangeOutput) {
  std::string swapped = kSmallGateway;
  const std::string web =
      "  - {name: web, network: vmnet, mac: \"52:54:00:00:00:0a\", ip: 10.10.0.10, port: "
      "vnet-web}\n";
  swapped.erase(swapped.find(web), web.size());
  swapped.insert(swapped.find("port_forwards:"), web);
  EXPECT_EQ(plan_text(compile(valid_config(kSmallGateway))),
            plan_text(compile(valid_config(swapped))));
}

TEST(Compile, ChainsAreStaticAndDataLivesInMaps) {
  auto plan = compile(valid_config(kSmallGateway));
  EXPECT_EQ(element_texts(plan, names::kForwardAddr),
            std::vector<std::string>{"203.0.113.2 . tcp . 8080 : 10.10.0.10"});
  EXPECT_EQ(element_texts(plan, names::kForwardPort),
            std::vector<std::string>{"203.0.113.2 . tcp . 8080 : 80"});
  EXPECT_EQ(element_texts(plan, names::kEipDnat),
            std::vector<std::string>{"203.0.113.17 : 10.10.0.11"});
  EXPECT_EQ(element_texts(plan, names::kEipSnat),
            std::vector<std::string>{"10.10.0.11 . \"wan0\" : 203.0.113.17"});
  EXPECT_EQ(element_texts(plan, names::kMasquerade),
            std::vector<std::string>{"\"wan0\" . 10.10.0.0/24"});

  // Adding VMs adds per-VM chains but never a rule to a base chain.
  auto base_rules = [](const Plan& p) {
    size_t n = 0;
    for (const auto& c : p.table.chains)
      if (c.hook) n += c.rules.size();
    return n;
  };
  std::string more = kSmallGateway;
  more.insert(more.find("port_forwards:"),
              "  - {name: app, network: vmnet, mac: \"52:54:00:00:00:0c\", ip: 10.10.0.12}\n");
  EXPECT_EQ(base_rules(plan), base_rules(compile(valid_config(more))));
}

TEST(Compile, PerVmCountersAreElementsNotChains) {
  auto plan = compile(valid_config(kSmallGateway));
  EXPECT_EQ(element_texts(plan, names::kVmEgress),
            (std::vector<std::string>{"10.10.0.11", "10.10.0.10"}));
  EXPECT_TRUE(set(plan, names::kVmEgress).counter);
  EXPECT_TRUE(set(plan, names::kVmIngress).counter);
  const auto* fwd = plan.table.find_chain(names::kFilterForward);
  ASSERT_NE(fwd, nullptr);
  int lookups = 0;
  for (const auto& r : fwd->rules)
    if (nft::rule_text(r).find(" @vm_") != std::string::npos) ++lookups;
  EXPECT_EQ(lookups, 2);  // egress and ingress, whatever the number of VMs
  // No chain per VM: only the base chains, quarantine's, the (empty) dispatch to filter
  // programs, two per uplink (a flow pinned to it, a packet of such a flow) and the drop log's
  // (one per log point).
  for (const auto& c : plan.table.chains)
    EXPECT_TRUE(c.hook || c.name == "quarantine" || c.name == names::kVmL3Out ||
                c.name == names::kVmL3In || c.name.rfind("uplink-", 0) == 0 ||
                c.name.rfind("pinned-", 0) == 0 || c.name.rfind("log_", 0) == 0)
        << c.name;
}

TEST(Compile, PortRangeForwardsPortByPort) {
  std::string y = kSmallGateway;
  y.replace(y.find("\"203.0.113.2:8080\", to: \"web:80\""), 32,
            "\"203.0.113.2:8000-8002\", to: \"web:80-82\"");
  auto plan = compile(valid_config(y));
  EXPECT_EQ(
      element_texts(plan, names::kForwardPort),
      (std::vector<std::string>{"203.0.113.2 . tcp . 8000 : 80", "203.0.113.2 . tcp . 8001 : 81",
                                "203.0.113.2 . tcp . 8002 : 82"}));
}

TEST(Compile, HostInputDropsByDefault) {
  auto plan = compile(valid_config(kSmallGateway));
  const auto* in = plan.table.find_chain(names::kFilterInput);
  ASSERT_TRUE(in && in->hook);
  EXPECT_EQ(in->hook->policy, "drop");
  EXPECT_EQ(nft::rule_text(in->rules.front()),
            "ct state established,related accept comment \"replies and related traffic of accepted "
            "flows\"");
  EXPECT_EQ(nft::rule_text(in->rules.back()),
            "counter jump log_input comment \"host: everything else\"");
  // Its log chain logs within host.drop_log (per source for IPv4, and for the whole table), and
  // drops either way; what it does not log is counted in log_suppressed.
  const auto* log = plan.table.find_chain("log_input");
  ASSERT_TRUE(log);
  std::vector<std::string> texts;
  for (const auto& r : log->rules) texts.push_back(nft::rule_text(r));
  EXPECT_EQ(
      texts,
      (std::vector<std::string>{
          "meta nfproto ipv4 update @drop_log_sources-20 { ip saddr timeout 60s limit rate "
          "20/second burst 20 packets } update @drop_log_rate-100-100 { meta mark & 0x00000000 "
          "limit "
          "rate 100/second burst 100 packets } log prefix \"vmgw drop - host: input\" group 7 "
          "drop comment \"logged: within host.drop_log\"",
          "meta nfproto != ipv4 update @drop_log_rate-100-100 { meta mark & 0x00000000 limit rate "
          "100/second burst 100 packets } log prefix \"vmgw drop - host: input\" group 7 drop "
          "comment \"logged: within host.drop_log\"",
          "jump log_suppressed comment \"not logged: over host.drop_log\"",
          "drop comment \"the logged rule's verdict\""}));
  const auto* suppressed = plan.table.find_chain(names::kLogSuppressed);
  ASSERT_TRUE(suppressed);
  ASSERT_EQ(suppressed->rules.size(), 1U);
  EXPECT_EQ(suppressed->rules[0].expr, (std::vector<nft::Json>{nft::counter()}));
}

TEST(Compile, NetworkPartOfThePlan) {
  auto plan = compile(valid_config(kSmallGateway));
  // The host's default route goes through the group of its uplinks (compile_routing_test.cpp).
  auto main_default = std::find_if(plan.routes.begin(), plan.routes.end(),
                                   [](const PlannedRoute& r) { return r.table == 254; });
  ASSERT_NE(main_default, plan.routes.end());
  EXPECT_EQ(main_default->nexthop, 3000u);
  EXPECT_EQ(main_default->metric, 100u);
  EXPECT_EQ(plan.uplink_devices, std::vector<std::string>{"wan0"});
  std::vector<std::string> addrs;
  for (const auto& a : plan.addresses) addrs.push_back(a.device + " " + a.address.str());
  EXPECT_EQ(addrs, (std::vector<std::string>{"br-vm 10.10.0.1/24", "wan0 203.0.113.2/24",
                                             "wan0 203.0.113.17/32"}));
  ASSERT_EQ(plan.ports.size(), 1u);
  EXPECT_EQ(plan.ports[0].device, "vnet-web");
  EXPECT_EQ(plan.sysctls[0].key, "net/ipv4/ip_forward");
  ASSERT_EQ(plan.dhcp.size(), 1u);
  EXPECT_EQ(plan.dhcp[0].hosts_file(),
            "52:54:00:00:00:0a,10.10.0.10,web\n52:54:00:00:00:0b,10.10.0.11,db\n");
}

// dnsmasq reads a dhcp-host field by its form: a VM named `ignore` would get no lease, `infinite`
// an infinite one, `7d` a lease time and no name. Such names are left out of the hosts file.
TEST(Compile, NamesDnsmasqWouldReadAsKeywordsAreNotWrittenAsHostNames) {
  for (const char* name : {"ignore", "infinite", "3600", "7", "7d", "1w", "12h", "45m", "30s"}) {
    EXPECT_TRUE(dnsmasq_reads_as_keyword(name)) << name;
    DhcpServer s;
    s.reservations.push_back({*Mac::parse("52:54:00:00:00:0a"), *Ipv4::parse("10.0.0.2"), name});
    EXPECT_EQ(s.hosts_file(), "52:54:00:00:00:0a,10.0.0.2\n") << name;
  }
  for (const char* name : {"web", "d", "m", "7x", "m5", "ignored", "infinite-1", "7d1", "12-h"}) {
    EXPECT_FALSE(dnsmasq_reads_as_keyword(name)) << name;
    DhcpServer s;
    s.reservations.push_back({*Mac::parse("52:54:00:00:00:0a"), *Ipv4::parse("10.0.0.2"), name});
    EXPECT_EQ(s.hosts_file(), std::string("52:54:00:00:00:0a,10.0.0.2,") + name + "\n");
  }
}

}  // namespace
}  // namespace vmgw
