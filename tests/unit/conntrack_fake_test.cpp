#include <gtest/gtest.h>
#include <netinet/in.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "backend/conntrack.h"

namespace vmgw::backend {
namespace {

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}

// Entry from "orig_src orig_dst reply_src reply_dst".
ConntrackEntry entry(const char* os, const char* od, const char* rs, const char* rd) {
  return ConntrackEntry{ip(os), ip(od), ip(rs), ip(rd)};
}

// The elastic IP 203.0.113.17 of VM 10.10.0.11 moves to VM 10.10.0.12.
const ConntrackFilter kInboundToOldVm{ip("203.0.113.17"), ip("10.10.0.11"), std::nullopt,
                                      std::nullopt};
const ConntrackFilter kOutboundFromOldVm{std::nullopt, std::nullopt, ip("10.10.0.11"),
                                         ip("203.0.113.17")};

class ConntrackFakeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fake.entries = {
        // inbound to the EIP, DNATed to the old VM (two flows)
        entry("198.51.100.7", "203.0.113.17", "10.10.0.11", "198.51.100.7"),
        entry("198.51.100.8", "203.0.113.17", "10.10.0.11", "198.51.100.8"),
        // outbound from the old VM, SNATed to the EIP
        entry("10.10.0.11", "192.0.2.53", "192.0.2.53", "203.0.113.17"),
        // outbound from the old VM, masqueraded to the uplink address (not the EIP): stays
        entry("10.10.0.11", "192.0.2.80", "192.0.2.80", "203.0.113.2"),
        // already moved: inbound to the EIP DNATed to the new VM: stays
        entry("198.51.100.9", "203.0.113.17", "10.10.0.12", "198.51.100.9"),
        // unrelated VM
        entry("10.10.0.13", "192.0.2.53", "192.0.2.53", "203.0.113.2"),
    };
  }
  FakeConntrack fake;
};

TEST_F(ConntrackFakeTest, DeletesInboundFlowsOfTheOldVm) {
  Conntrack& ct = fake;
  EXPECT_EQ(ct.delete_matching(kInboundToOldVm), 2U);
  EXPECT_EQ(fake.filters, std::vector<ConntrackFilter>{kInboundToOldVm});
  EXPECT_EQ(fake.entries.size(), 4U);
  for (const auto& e : fake.entries) EXPECT_FALSE(matches(kInboundToOldVm, e));
}

TEST_F(ConntrackFakeTest, DeletesOutboundFlowsSnatedToTheEip) {
  EXPECT_EQ(fake.delete_matching(kOutboundFromOldVm), 1U);
  EXPECT_EQ(fake.entries.size(), 5U);
  EXPECT_EQ(fake.entries[2], entry("10.10.0.11", "192.0.2.80", "192.0.2.80", "203.0.113.2"));
}

TEST_F(ConntrackFakeTest, RecordsEveryFilterInOrderEvenWithoutMatches) {
  fake.delete_matching(kInboundToOldVm);
  fake.delete_matching(kOutboundFromOldVm);
  EXPECT_EQ(fake.delete_matching(kInboundToOldVm), 0U);  // already gone
  EXPECT_EQ(fake.filters,
            (std::vector<ConntrackFilter>{kInboundToOldVm, kOutboundFromOldVm, kInboundToOldVm}));
  EXPECT_EQ(fake.entries.size(), 3U);
}

TEST_F(ConntrackFakeTest, SingleFieldFilters) {
  ConntrackFilter by_orig_dst;
  by_orig_dst.orig_dst = ip("203.0.113.17");
  EXPECT_EQ(fake.delete_matching(by_orig_dst), 3U);
  ConntrackFilter by_reply_dst;
  by_reply_dst.reply_dst = ip("203.0.113.2");
  EXPECT_EQ(fake.delete_matching(by_reply_dst), 2U);
  EXPECT_EQ(fake.entries.size(), 1U);
}

TEST_F(ConntrackFakeTest, EmptyFilterIsRefused) {
  try {
    fake.delete_matching(ConntrackFilter{});
    ADD_FAILURE() << "no ConntrackError";
  } catch (const ConntrackError& e) {
    EXPECT_EQ(std::string(e.what()),
              "conntrack: refusing to delete with an empty filter (it would match every entry)");
  }
  EXPECT_EQ(fake.entries.size(), 6U);
  EXPECT_EQ(fake.filters.size(), 1U);
}

TEST(ConntrackFilter, MatchesRequiresEverySetField) {
  auto e = entry("198.51.100.7", "203.0.113.17", "10.10.0.11", "198.51.100.7");
  EXPECT_TRUE(matches(kInboundToOldVm, e));
  EXPECT_FALSE(matches(kOutboundFromOldVm, e));
  ConntrackFilter f = kInboundToOldVm;
  f.reply_src = ip("10.10.0.12");
  EXPECT_FALSE(matches(f, e));
  EXPECT_TRUE(matches(ConntrackFilter{}, e));
  EXPECT_TRUE(is_empty(ConntrackFilter{}));
  EXPECT_FALSE(is_empty(kOutboundFromOldVm));
}

TEST(ConntrackFilter, Describe) {
  EXPECT_EQ(describe(kInboundToOldVm), "orig_dst=203.0.113.17 reply_src=10.10.0.11");
  EXPECT_EQ(describe(kOutboundFromOldVm), "orig_src=10.10.0.11 reply_dst=203.0.113.17");
  EXPECT_EQ(describe(ConntrackFilter{}), "any");
}

// Flows of VM 10.10.0.11 (and one of another VM) for list and delete_flows.
ConntrackFlow udp_flow(const char* src, uint16_t sport, const char* dst, uint16_t dport) {
  ConntrackFlow f;
  f.proto = IPPROTO_UDP;
  f.orig_src = ip(src);
  f.orig_dst = ip(dst);
  f.orig_sport = sport;
  f.orig_dport = dport;
  f.reply_src = f.orig_dst;
  f.reply_dst = f.orig_src;
  f.reply_sport = dport;
  f.reply_dport = sport;
  f.timeout = 30;
  return f;
}

class ConntrackFakeFlowsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dns = udp_flow("10.10.0.11", 40000, "192.0.2.53", 53);
    dns2 = udp_flow("10.10.0.11", 40001, "192.0.2.53", 53);
    // Inbound TCP to the EIP, DNATed to the VM: the VM shows up as reply_src only.
    web.proto = IPPROTO_TCP;
    web.orig_src = ip("198.51.100.7");
    web.orig_dst = ip("203.0.113.17");
    web.orig_sport = 51000;
    web.orig_dport = 443;
    web.reply_src = ip("10.10.0.11");
    web.reply_dst = ip("198.51.100.7");
    web.reply_sport = 443;
    web.reply_dport = 51000;
    web.state = "ESTABLISHED";
    web.assured = true;
    other = udp_flow("10.10.0.13", 40000, "192.0.2.53", 53);
    fake.flows = {dns, web, other, dns2};
  }
  FakeConntrack fake;
  ConntrackFlow dns, dns2, web, other;
};

TEST_F(ConntrackFakeFlowsTest, ListsTheFlowsInvolvingAnAddress) {
  Conntrack& ct = fake;
  EXPECT_EQ(ct.list(ip("10.10.0.11")), (std::vector<ConntrackFlow>{dns, web, dns2}));
  EXPECT_EQ(ct.list(ip("10.10.0.13")), std::vector<ConntrackFlow>{other});
  EXPECT_EQ(ct.list(ip("192.0.2.53")), (std::vector<ConntrackFlow>{dns, other, dns2}));
  EXPECT_EQ(ct.list(ip("203.0.113.17")), std::vector<ConntrackFlow>{web});  // orig_dst
  EXPECT_EQ(ct.list(ip("198.51.100.7")), std::vector<ConntrackFlow>{web});  // orig_src
  EXPECT_TRUE(ct.list(ip("10.10.0.12")).empty());
  EXPECT_EQ(ct.list(std::nullopt), fake.flows);
}

TEST_F(ConntrackFakeFlowsTest, DeletesExactlyTheGivenFlows) {
  Conntrack& ct = fake;
  EXPECT_EQ(ct.delete_flows({dns, web}), 2U);
  EXPECT_EQ(fake.flows, (std::vector<ConntrackFlow>{other, dns2}));
  EXPECT_EQ(fake.deletions, (std::vector<ConntrackFlow>{dns, web}));
  EXPECT_EQ(ct.list(ip("10.10.0.11")), std::vector<ConntrackFlow>{dns2});
}

TEST_F(ConntrackFakeFlowsTest, FlowsAreIdentifiedByTheirOriginalTuple) {
  // Counters, timeout and state change while the flow lives: still the same flow.
  ConntrackFlow later = web;
  later.timeout = 5;
  later.state = "FIN_WAIT";
  later.packets_orig = 12;
  EXPECT_EQ(fake.delete_flows({later}), 1U);
  EXPECT_EQ(fake.flows, (std::vector<ConntrackFlow>{dns, other, dns2}));
  // Another source port is another flow.
  ConntrackFlow not_dns = dns;
  not_dns.orig_sport = 40002;
  EXPECT_EQ(fake.delete_flows({not_dns}), 0U);
  EXPECT_EQ(fake.flows.size(), 3U);
  EXPECT_TRUE(same_flow(dns, dns));
  EXPECT_FALSE(same_flow(dns, dns2));
  EXPECT_FALSE(same_flow(dns, other));
}

TEST_F(ConntrackFakeFlowsTest, GoneFlowsAreNotCountedNorErrors) {
  EXPECT_EQ(fake.delete_flows({dns, dns}), 1U);  // the second is gone by then
  EXPECT_EQ(fake.delete_flows({dns, dns2}), 1U);
  EXPECT_EQ(fake.delete_flows({}), 0U);
  EXPECT_EQ(fake.flows, (std::vector<ConntrackFlow>{web, other}));
  EXPECT_EQ(fake.deletions, (std::vector<ConntrackFlow>{dns, dns, dns, dns2}));
}

TEST_F(ConntrackFakeFlowsTest, InjectedErrorIsThrown) {
  fake.error = "conntrack: list flows: Operation not permitted";
  EXPECT_THROW(fake.list(ip("10.10.0.11")), ConntrackError);
  EXPECT_THROW(fake.delete_flows({dns}), ConntrackError);
  EXPECT_EQ(fake.flows.size(), 4U);
  EXPECT_EQ(fake.deletions, std::vector<ConntrackFlow>{dns});
}

TEST_F(ConntrackFakeFlowsTest, DeleteMatchingAlsoDeletesMatchingFlows) {
  ConntrackFilter f;
  f.orig_dst = ip("203.0.113.17");
  f.reply_src = ip("10.10.0.11");
  EXPECT_EQ(fake.delete_matching(f), 1U);
  EXPECT_EQ(fake.flows, (std::vector<ConntrackFlow>{dns, other, dns2}));
}

TEST(ConntrackFlow, Involves) {
  auto f = udp_flow("10.10.0.11", 40000, "192.0.2.53", 53);
  f.reply_dst = ip("203.0.113.17");  // SNATed
  EXPECT_TRUE(involves(f, ip("10.10.0.11")));
  EXPECT_TRUE(involves(f, ip("192.0.2.53")));
  EXPECT_TRUE(involves(f, ip("203.0.113.17")));
  EXPECT_FALSE(involves(f, ip("10.10.0.12")));
}

TEST(ConntrackFlow, Describe) {
  EXPECT_EQ(describe(udp_flow("10.10.0.11", 40000, "192.0.2.53", 53)),
            "udp 10.10.0.11:40000 -> 192.0.2.53:53");
  ConntrackFlow ping;
  ping.proto = IPPROTO_ICMP;
  ping.orig_src = ip("10.10.0.11");
  ping.orig_dst = ip("192.0.2.1");
  ping.orig_sport = 7;
  ping.orig_dport = 0x0800;
  EXPECT_EQ(describe(ping), "icmp 10.10.0.11 -> 192.0.2.1 type 8 code 0 id 7");
  ConntrackFlow gre;
  gre.proto = 47;
  gre.orig_src = ip("10.10.0.11");
  gre.orig_dst = ip("192.0.2.1");
  EXPECT_EQ(describe(gre), "proto 47 10.10.0.11 -> 192.0.2.1");
}

TEST(ConntrackFlow, ToJson) {
  ConntrackFlow f;
  f.proto = IPPROTO_TCP;
  f.orig_src = ip("198.51.100.7");
  f.orig_dst = ip("203.0.113.17");
  f.orig_sport = 51000;
  f.orig_dport = 443;
  f.reply_src = ip("10.10.0.11");
  f.reply_dst = ip("198.51.100.7");
  f.reply_sport = 443;
  f.reply_dport = 51000;
  f.state = "ESTABLISHED";
  f.timeout = 431999;
  f.mark = 7;
  f.assured = true;
  f.packets_orig = 3;
  f.bytes_orig = 180;
  f.packets_reply = 2;
  f.bytes_reply = 120;
  EXPECT_EQ(to_json(f), nlohmann::json::parse(R"({
    "proto": "tcp", "src": "198.51.100.7", "dst": "203.0.113.17", "sport": 51000, "dport": 443,
    "reply_src": "10.10.0.11", "reply_dst": "198.51.100.7", "reply_sport": 443,
    "reply_dport": 51000, "state": "ESTABLISHED", "timeout": 431999, "mark": 7,
    "assured": true, "packets": 5, "bytes": 300})"));

  ConntrackFlow ping;
  ping.proto = IPPROTO_ICMP;
  ping.orig_sport = 7;
  ping.orig_dport = 0x0800;
  ping.reply_sport = 7;
  auto j = to_json(ping);
  EXPECT_EQ(j["proto"], "icmp");
  EXPECT_EQ(j["icmp_type"], 8);
  EXPECT_EQ(j["icmp_code"], 0);
  EXPECT_EQ(j["icmp_id"], 7);
  EXPECT_EQ(j["state"], "");

  ConntrackFlow gre;
  gre.proto = 47;
  EXPECT_EQ(to_json(gre)["proto"], 47);
  EXPECT_FALSE(to_json(gre).contains("icmp_type"));
}

}  // namespace
}  // namespace vmgw::backend
