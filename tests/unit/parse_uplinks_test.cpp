// YAML -> the multi-uplink parts of a Config: weights, tiers, probes, a network's uplinks, mode
// and failback, DSCP rules, and every structural error with its location and message.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/parse.h"

namespace vmgw {
namespace {

using Lines = std::vector<std::string>;

Lines errors_of(const std::string& yaml) {
  Lines out;
  for (const auto& d : parse_config(yaml, "t.yaml").errors) out.push_back(d.str());
  return out;
}

TEST(ParseUplinks, WeightTierAndProbe) {
  auto r = parse_config(R"(uplinks:
  - name: dsl
    device: wan0
    address: 203.0.113.2/24
    gateway: 203.0.113.1
    weight: 3
    tier: 2
    probe:
      targets: [198.51.100.10, "198.51.100.10:443"]
      interval: 250ms
      down_after: 4
      up_after: 6
  - {name: cable, device: wan1, address: 198.51.100.2/24, probe: false}
  - {name: lte, device: wan2, address: 192.0.2.2/24, probe: {interval: 1.5s}}
)",
                        "t.yaml");
  ASSERT_EQ(r.errors.size(), 0U) << r.errors.front().str();
  const auto& dsl = r.config.uplinks[0];
  EXPECT_EQ(dsl.weight, 3U);
  EXPECT_EQ(dsl.tier, 2U);
  EXPECT_TRUE(dsl.probe.enabled);
  ASSERT_EQ(dsl.probe.targets.size(), 2U);
  EXPECT_EQ(dsl.probe.targets[0], (ProbeTarget{*Ipv4::parse("198.51.100.10"), 0}));
  EXPECT_EQ(dsl.probe.targets[1], (ProbeTarget{*Ipv4::parse("198.51.100.10"), 443}));
  EXPECT_EQ(dsl.probe.interval_ms, 250U);
  EXPECT_EQ(dsl.probe.down_after, 4U);
  EXPECT_EQ(dsl.probe.up_after, 6U);
  EXPECT_EQ(dsl.origin.at("probe.interval").line, 10);
  const auto& cable = r.config.uplinks[1];
  EXPECT_FALSE(cable.probe.enabled);
  EXPECT_EQ(cable.weight, 1U);  // defaults
  EXPECT_EQ(cable.tier, 1U);
  EXPECT_EQ(r.config.uplinks[2].probe.interval_ms, 1500U);
  EXPECT_EQ(r.config.uplinks[2].probe.down_after, 12U);  // defaults
  EXPECT_EQ(r.config.uplinks[2].probe.up_after, 20U);
  EXPECT_EQ(r.config.uplinks[1].probe.interval_ms, 50U);
}

TEST(ParseUplinks, BadProbesWeightsAndTiers) {
  EXPECT_EQ(errors_of("uplinks:\n  - {name: a, weight: 0, tier: 300}\n"),
            (Lines{"t.yaml:2:23: uplinks[0].weight: expected a weight from 1 to 255, got '0'",
                   "t.yaml:2:32: uplinks[0].tier: expected a tier from 1 to 255, got '300'"}));
  EXPECT_EQ(errors_of("uplinks:\n  - name: a\n    probe: {interval: 100}\n"),
            (Lines{"t.yaml:3:23: uplinks[0].probe.interval: '100' has no unit (expected e.g. "
                   "100ms or 1s)"}));
  EXPECT_EQ(errors_of("uplinks:\n  - name: a\n    probe: {interval: 5ms}\n"),
            (Lines{"t.yaml:3:23: uplinks[0].probe.interval: '5ms' is out of range (a whole "
                   "number of milliseconds from 10ms to 10s)"}));
  EXPECT_EQ(errors_of("uplinks:\n  - name: a\n    probe: {interval: soon}\n"),
            (Lines{"t.yaml:3:23: uplinks[0].probe.interval: 'soon' is not a duration (expected "
                   "e.g. 100ms or 1s)"}));
  EXPECT_EQ(errors_of("uplinks:\n  - name: a\n    probe: {targets: [example.com, "
                      "\"1.2.3.4:0\"], down_after: 0}\n"),
            (Lines{"t.yaml:3:23: uplinks[0].probe.targets[0]: 'example.com' is not a probe "
                   "target (expected an address for ICMP echo, or ADDR:PORT for a TCP "
                   "connection)",
                   "t.yaml:3:36: uplinks[0].probe.targets[1]: '1.2.3.4:0': the port must be a "
                   "number from 1 to 65535",
                   "t.yaml:3:62: uplinks[0].probe.down_after: expected a number of probes from 1 "
                   "to 1000, got '0'"}));
  EXPECT_EQ(errors_of("uplinks:\n  - name: a\n    probe: {timeout: 1s}\n"),
            (Lines{"t.yaml:3:13: uplinks[0].probe.timeout: unknown field 'timeout'"}));
}

TEST(ParseUplinks, NetworkUplinksModeAndFailback) {
  auto r = parse_config(
      "networks:\n  - {name: n, uplinks: [dsl, cable], mode: failover, failback: immediate}\n",
      "t.yaml");
  ASSERT_TRUE(r.errors.empty());
  const auto& n = r.config.networks[0];
  EXPECT_EQ(n.uplinks, (std::vector<std::string>{"dsl", "cable"}));
  EXPECT_EQ(n.mode, UplinkMode::failover);
  EXPECT_EQ(n.failback, Failback::immediate);
  auto d = parse_config("networks:\n  - {name: n}\n", "t.yaml").config.networks[0];
  EXPECT_EQ(d.mode, UplinkMode::balance);
  EXPECT_EQ(d.failback, Failback::defer);
  EXPECT_EQ(errors_of("networks:\n  - {name: n, mode: roundrobin, failback: later}\n"),
            (Lines{"t.yaml:2:21: networks[0].mode: 'roundrobin' is not a mode (expected balance "
                   "or failover)",
                   "t.yaml:2:43: networks[0].failback: 'later' is not a failback policy "
                   "(expected defer or immediate)"}));
}

TEST(ParseUplinks, DscpRules) {
  auto r = parse_config(R"(dscp:
  - {vm: web, proto: tcp, port: 22, dscp: ef}
  - {network: lan, proto: udp, port: 5060-5061, dscp: af41}
  - {from: 10.0.0.0/8, dscp: 8}
  - {vm: db, dscp: cs1}
)",
                        "t.yaml");
  ASSERT_TRUE(r.errors.empty()) << r.errors.front().str();
  const auto& d = r.config.dscp;
  ASSERT_EQ(d.size(), 4U);
  EXPECT_EQ(d[0].vm, "web");
  EXPECT_EQ(*d[0].dscp, 46);
  EXPECT_EQ(d[0].ports->str(), "22");
  EXPECT_EQ(d[1].network, "lan");
  EXPECT_EQ(d[1].proto, Proto::udp);
  EXPECT_EQ(*d[1].dscp, 34);
  EXPECT_EQ(d[2].from->str(), "10.0.0.0/8");
  EXPECT_EQ(*d[2].dscp, 8);
  EXPECT_FALSE(d[2].ports);
  EXPECT_EQ(*d[3].dscp, 8);  // cs1
  EXPECT_EQ(errors_of("dscp:\n  - {vm: web, dscp: fast}\n"),
            (Lines{"t.yaml:2:21: dscp[0].dscp: 'fast' is not a DSCP value (expected 0-63 or a "
                   "name: ef, af11-af43, cs0-cs7, le, va)"}));
  EXPECT_EQ(errors_of("dscp:\n  - {vm: web, dscp: 64}\n"),
            (Lines{"t.yaml:2:21: dscp[0].dscp: '64' is not a DSCP value (expected 0-63 or a "
                   "name: ef, af11-af43, cs0-cs7, le, va)"}));
}

TEST(ParseDscp, Names) {
  EXPECT_EQ(parse_dscp("cs0"), 0);
  EXPECT_EQ(parse_dscp("cs7"), 56);
  EXPECT_EQ(parse_dscp("af11"), 10);
  EXPECT_EQ(parse_dscp("af43"), 38);
  EXPECT_EQ(parse_dscp("ef"), 46);
  EXPECT_EQ(parse_dscp("le"), 1);
  EXPECT_EQ(parse_dscp("va"), 44);
  EXPECT_EQ(parse_dscp("63"), 63);
  EXPECT_FALSE(parse_dscp("af44"));
  EXPECT_FALSE(parse_dscp("cs8"));
  EXPECT_FALSE(parse_dscp("046"));
}

}  // namespace
}  // namespace vmgw
