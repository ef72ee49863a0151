// Semantic validation of the multi-uplink parts: one test per rule (path, reason and line).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "model/load.h"

namespace vmgw {
namespace {

using Lines = std::vector<std::string>;

const char* kHead = R"(uplinks:
  - {name: dsl, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
  - {name: cable, device: wan1, address: 198.51.100.2/24, gateway: 198.51.100.1}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, masquerade: [dsl]}
vms:
  - {name: web, network: vmnet, mac: "52:54:00:00:00:0a", ip: 10.10.0.10}
)";

Lines errors_of(const std::string& tail) {
  auto r = load_config(std::string(kHead) + tail, "t.yaml");
  Lines out;
  if (auto* d = std::get_if<Diagnostics>(&r))
    for (const auto& e : *d) out.push_back(e.str());
  return out;
}

TEST(ValidateUplinks, TheHeadIsValid) {
  EXPECT_EQ(errors_of(""), Lines{});
}

TEST(ValidateUplinks, NetworkUplinksMustExistOnceAndHoldItsMasquerade) {
  auto r = load_config(R"(uplinks:
  - {name: dsl, device: wan0, address: 203.0.113.2/24}
  - {name: cable, device: wan1, address: 198.51.100.2/24}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, masquerade: [dsl], uplinks: [cable, cabel, cable]}
)",
                       "t.yaml");
  ASSERT_TRUE(std::holds_alternative<Diagnostics>(r));
  Lines got;
  for (const auto& e : std::get<Diagnostics>(r)) got.push_back(e.str());
  EXPECT_EQ(got, (Lines{
                     "t.yaml:5:89: networks[0].masquerade[0]: uplink 'dsl' is not one of the "
                     "network's uplinks: its traffic never leaves there",
                     "t.yaml:5:112: networks[0].uplinks[1]: unknown uplink 'cabel'; did you mean "
                     "'cable'?",
                     "t.yaml:5:119: networks[0].uplinks[2]: uplink 'cable' is listed twice",
                 }));
}

TEST(ValidateUplinks, ProbeTargetIsNotTheUplinksOwnAddressAndAddressesAreDistinct) {
  auto r = load_config(R"(uplinks:
  - {name: dsl, device: wan0, address: 203.0.113.2/24, probe: {targets: [203.0.113.2]}}
  - {name: cable, device: wan1, address: 203.0.113.2/24}
)",
                       "t.yaml");
  Lines got;
  for (const auto& e : std::get<Diagnostics>(r)) got.push_back(e.str());
  EXPECT_EQ(got, (Lines{"t.yaml:2:74: uplinks[0].probe.targets[0]: 203.0.113.2 is the uplink's "
                        "own address: probe something beyond it (its gateway, or a host on the "
                        "internet)",
                        "t.yaml:3:42: uplinks[1].address: 203.0.113.2 is already the address of "
                        "uplink 'dsl'"}));
}

TEST(ValidateUplinks, DscpSelectsExactlyOneKnownSource) {
  EXPECT_EQ(errors_of("dscp:\n  - {proto: tcp, port: 22, dscp: ef}\n"),
            (Lines{"t.yaml:9:5: dscp[0]: say whose traffic it marks: vm, network or from (a "
                   "prefix)"}));
  EXPECT_EQ(errors_of("dscp:\n  - {vm: web, network: vmnet, dscp: ef}\n"),
            (Lines{"t.yaml:9:10: dscp[0].vm: give one of vm, network and from, not several"}));
  EXPECT_EQ(errors_of("dscp:\n  - {vm: wbe, dscp: ef}\n  - {network: vmnett, dscp: ef}\n"),
            (Lines{"t.yaml:9:10: dscp[0].vm: unknown vm 'wbe'; did you mean 'web'?",
                   "t.yaml:10:15: dscp[1].network: unknown network 'vmnett'; did you mean "
                   "'vmnet'?"}));
  EXPECT_EQ(errors_of("dscp:\n  - {vm: web, port: 0-22, dscp: ef}\n  - {vm: web}\n"),
            (Lines{"t.yaml:9:21: dscp[0].port: port 0 is out of range 1-65535",
                   "t.yaml:10:5: dscp[1].dscp: missing required field"}));
}

}  // namespace
}  // namespace vmgw
