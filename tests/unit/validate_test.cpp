// Semantic validation: one test per rule (path, reason and line of the error), several mistakes
// reported at once, and the lab example validating cleanly. Most tests edit one or two lines of
// the lab configuration so that line numbers stay those of kLab below.

#include "model/validate.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <utility>
#include <vector>

#include "model/parse.h"
#include "test_support.h"

namespace vmgw {
namespace {

const char* const kLab = testing::kLabYaml;  // line numbers are referred to below

using Edits = std::vector<std::pair<std::string, std::string>>;

// kLab with each `from` (which must occur exactly once) replaced by `to`.
std::string lab_with(const Edits& edits) {
  std::string text = kLab;
  for (const auto& [from, to] : edits) {
    auto at = text.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    EXPECT_EQ(text.find(from, at + 1), std::string::npos) << "not unique: " << from;
    if (at != std::string::npos) text.replace(at, from.size(), to);
  }
  return text;
}

std::string lab_with(const std::string& from, const std::string& to) {
  return lab_with(Edits{{from, to}});
}

// Parses (which must succeed) and validates; returns the validation errors.
Diagnostics errors_of(const std::string& yaml) {
  auto parsed = parse_config(yaml, "t.yaml");
  for (const auto& d : parsed.errors) ADD_FAILURE() << "parse error: " << d.str();
  auto result = validate(parsed.config);
  if (std::holds_alternative<Validated<Config>>(result)) return {};
  return std::get<Diagnostics>(result);
}

std::string dump(const Diagnostics& errors) {
  std::string out;
  for (const auto& d : errors) out += "\n  " + d.str();
  return out;
}

// Asserts that validating `yaml` gives exactly one error, with that path, a reason containing
// `reason` and that line.
void expect_error(const std::string& yaml, const std::string& path, const std::string& reason,
                  int line) {
  auto errors = errors_of(yaml);
  ASSERT_EQ(errors.size(), 1U) << dump(errors);
  EXPECT_EQ(errors[0].path, path) << dump(errors);
  EXPECT_NE(errors[0].reason.find(reason), std::string::npos) << dump(errors);
  EXPECT_EQ(errors[0].where.line, line) << dump(errors);
  EXPECT_EQ(errors[0].where.file, "t.yaml");
}

void expect_valid(const std::string& yaml) {
  auto errors = errors_of(yaml);
  EXPECT_TRUE(errors.empty()) << dump(errors);
}

TEST(Validate, LabIsValid) {
  auto parsed = parse_config(kLab, "lab.yaml");
  ASSERT_TRUE(parsed.errors.empty());
  auto result = validate(parsed.config);
  ASSERT_TRUE(std::holds_alternative<Validated<Config>>(result))
      << dump(std::get<Diagnostics>(result));
  const auto& v = std::get<Validated<Config>>(result);
  EXPECT_EQ(v->vms.size(), 2U);
  EXPECT_EQ(v.get().uplinks[0].name, "isp1");
}

TEST(Validate, EmptyConfigIsValid) {
  expect_valid("");
}

// --- required fields ---

TEST(Validate, UplinkRequiredFields) {
  auto errors = errors_of("uplinks:\n  - gateway: 203.0.113.1\n");
  ASSERT_EQ(errors.size(), 3U) << dump(errors);
  EXPECT_EQ(errors[0].path, "uplinks[0].name");
  EXPECT_EQ(errors[1].path, "uplinks[0].device");
  EXPECT_EQ(errors[2].path, "uplinks[0].address");
  for (const auto& e : errors) {
    EXPECT_EQ(e.reason, "missing required field");
    EXPECT_EQ(e.where.line, 2);
    EXPECT_EQ(e.where.column, 5);
  }
}

TEST(Validate, NetworkRequiredFields) {
  auto errors = errors_of("networks:\n  - dhcp: true\n");
  ASSERT_EQ(errors.size(), 4U) << dump(errors);
  EXPECT_EQ(errors[0].path, "networks[0].name");
  EXPECT_EQ(errors[1].path, "networks[0].bridge");
  EXPECT_EQ(errors[2].path, "networks[0].subnet");
  EXPECT_EQ(errors[3].path, "networks[0].gateway");
  for (const auto& e : errors) EXPECT_EQ(e.where.line, 2);
}

TEST(Validate, VmRequiredFields) {
  auto errors = errors_of(lab_with("    port: vnet-db\n", "    port: vnet-db\n  - name: x\n"));
  ASSERT_EQ(errors.size(), 3U) << dump(errors);
  EXPECT_EQ(errors[0].path, "vms[2].network");
  EXPECT_EQ(errors[1].path, "vms[2].mac");
  EXPECT_EQ(errors[2].path, "vms[2].ip");
  for (const auto& e : errors) {
    EXPECT_EQ(e.reason, "missing required field");
    EXPECT_EQ(e.where.line, 32);
  }
}

TEST(Validate, PortForwardRequiredFields) {
  auto errors = errors_of(lab_with("  - public: 203.0.113.2:8080\n    proto: tcp\n    to: web:80\n",
                                   "  - proto: tcp\n"));
  ASSERT_EQ(errors.size(), 2U) << dump(errors);
  EXPECT_EQ(errors[0].path, "port_forwards[0].public");
  EXPECT_EQ(errors[1].path, "port_forwards[0].to");
  for (const auto& e : errors) EXPECT_EQ(e.where.line, 34);
}

TEST(Validate, PoolRequiredFields) {
  auto errors = errors_of("elastic_ips:\n  pools:\n    - {}\n");
  ASSERT_EQ(errors.size(), 3U) << dump(errors);
  EXPECT_EQ(errors[0].path, "elastic_ips.pools[0].name");
  EXPECT_EQ(errors[1].path, "elastic_ips.pools[0].uplink");
  EXPECT_EQ(errors[2].path, "elastic_ips.pools[0].cidr");
  EXPECT_EQ(errors[2].reason, "missing required field (give cidr or range)");
  for (const auto& e : errors) EXPECT_EQ(e.where.line, 3);
}

TEST(Validate, BindingRequiredFields) {
  auto errors =
      errors_of(lab_with("    - address: 203.0.113.17\n      vm: db\n", "    - pool: public\n"));
  ASSERT_EQ(errors.size(), 2U) << dump(errors);
  EXPECT_EQ(errors[0].path, "elastic_ips.bindings[0].vm");
  EXPECT_EQ(errors[1].path, "elastic_ips.bindings[0].address");
  for (const auto& e : errors) EXPECT_EQ(e.where.line, 44);
}

TEST(Validate, HostServiceRequiresPort) {
  expect_error(lab_with("      port: 22\n", ""), "host.allow[0].port", "missing required field",
               49);
}

TEST(Validate, FieldThatFailedToParseIsNotReportedAgain) {
  auto parsed = parse_config("vms:\n  - name: a\n    network: n\n    ip: 10.0.0.300\n", "t.yaml");
  ASSERT_EQ(parsed.errors.size(), 1U);
  auto result = validate(parsed.config);
  ASSERT_TRUE(std::holds_alternative<Diagnostics>(result));
  for (const auto& e : std::get<Diagnostics>(result)) EXPECT_NE(e.path, "vms[0].ip") << e.str();
}

// --- names ---

TEST(Validate, ObjectNameMustBeValid) {
  expect_error(lab_with("  - name: lan\n", "  - name: Lan\n"), "networks[1].name",
               "'Lan' is not a valid name", 15);
}

TEST(Validate, ObjectNamesUniquePerKind) {
  expect_error(lab_with("  - name: lan\n", "  - name: vmnet\n"), "networks[1].name",
               "network name 'vmnet' is already used by networks[0]", 15);
  expect_error(lab_with(Edits{{"  - name: db\n", "  - name: web\n"}, {"vm: db\n", "vm: web\n"}}),
               "vms[1].name", "vm name 'web' is already used by vms[0]", 27);
  // Different kinds may share a name.
  expect_valid(lab_with("  - name: lan\n", "  - name: web\n"));
}

TEST(Validate, UplinkNamesUnique) {
  expect_error(lab_with("    gateway: 203.0.113.1\n",
                        "    gateway: 203.0.113.1\n  - name: isp1\n    device: wan1\n    address: "
                        "198.51.100.2/24\n"),
               "uplinks[1].name", "uplink name 'isp1' is already used by uplinks[0]", 7);
}

TEST(Validate, PoolNamesUnique) {
  expect_error(lab_with("      cidr: 203.0.113.16/28\n",
                        "      cidr: 203.0.113.16/28\n    - name: public\n      uplink: isp1\n"
                        "      range: 203.0.113.40-203.0.113.49\n"),
               "elastic_ips.pools[1].name", "pool name 'public' is already used", 43);
}

// --- devices ---

TEST(Validate, UplinkDeviceName) {
  expect_error(lab_with("    device: wan0\n", "    device: wan0-is-much-too-long\n"),
               "uplinks[0].device",
               "'wan0-is-much-too-long' is not a valid interface name: at most 15 characters of "
               "[A-Za-z0-9_.-]",
               4);
}

TEST(Validate, UplinkDevicesUnique) {
  expect_error(lab_with("    gateway: 203.0.113.1\n",
                        "    gateway: 203.0.113.1\n  - name: isp2\n    device: wan0\n    address: "
                        "198.51.100.2/24\n"),
               "uplinks[1].device", "device 'wan0' is already used by uplink 'isp1'", 8);
}

TEST(Validate, BridgeName) {
  expect_error(lab_with("    bridge: lan0\n", "    bridge: \"lan 0\"\n"), "networks[1].bridge",
               "'lan 0' is not a valid interface name", 16);
}

TEST(Validate, BridgeIsNotAnUplinkDevice) {
  expect_error(lab_with("    bridge: lan0\n", "    bridge: wan0\n"), "networks[1].bridge",
               "bridge 'wan0' is already the device of uplink 'isp1'", 16);
}

TEST(Validate, BridgesUnique) {
  expect_error(lab_with("    bridge: lan0\n", "    bridge: br-vm\n"), "networks[1].bridge",
               "bridge 'br-vm' is already used by network 'vmnet'", 16);
}

TEST(Validate, VmPortName) {
  expect_error(lab_with("    port: vnet-db\n", "    port: vnet-db-too-long\n"), "vms[1].port",
               "'vnet-db-too-long' is not a valid interface name", 31);
}

TEST(Validate, VmPortsUnique) {
  expect_error(lab_with("    port: vnet-db\n", "    port: vnet-web\n"), "vms[1].port",
               "port 'vnet-web' is already used by vm 'web'", 31);
}

TEST(Validate, VmPortIsNotABridge) {
  expect_error(lab_with("    port: vnet-db\n", "    port: br-vm\n"), "vms[1].port",
               "port 'br-vm' is the bridge of network 'vmnet'", 31);
}

TEST(Validate, VmPortIsNotAnUplinkDevice) {
  expect_error(lab_with("    port: vnet-db\n", "    port: wan0\n"), "vms[1].port",
               "port 'wan0' is the device of uplink 'isp1'", 31);
}

TEST(Validate, HostInterfaceName) {
  expect_error(lab_with("      interface: lan0\n", "      interface: lan/0\n"),
               "host.allow[0].interface", "'lan/0' is not a valid interface name", 51);
}

// --- uplinks and networks: addresses ---

TEST(Validate, UplinkGatewayInsidePrefix) {
  expect_error(lab_with("    gateway: 203.0.113.1\n", "    gateway: 198.51.100.1\n"),
               "uplinks[0].gateway",
               "gateway 198.51.100.1 is outside the uplink's prefix 203.0.113.0/24", 6);
}

TEST(Validate, UplinkGatewayIsNotItsOwnAddress) {
  expect_error(lab_with("    gateway: 203.0.113.1\n", "    gateway: 203.0.113.2\n"),
               "uplinks[0].gateway", "is the uplink's own address", 6);
}

TEST(Validate, NetworkGatewayInsideSubnet) {
  expect_error(lab_with("    gateway: 192.168.50.1\n", "    gateway: 192.168.51.1\n"),
               "networks[1].gateway", "gateway 192.168.51.1 is outside the subnet 192.168.50.0/24",
               18);
}

TEST(Validate, NetworkGatewayNotNetworkAddress) {
  expect_error(lab_with("    gateway: 192.168.50.1\n", "    gateway: 192.168.50.0\n"),
               "networks[1].gateway", "is the network address of 192.168.50.0/24", 18);
}

TEST(Validate, NetworkGatewayNotBroadcast) {
  expect_error(lab_with("    gateway: 192.168.50.1\n", "    gateway: 192.168.50.255\n"),
               "networks[1].gateway", "is the broadcast address of 192.168.50.0/24", 18);
}

TEST(Validate, SubnetPrefixTooLong) {
  expect_error(lab_with("    subnet: 192.168.50.0/24\n", "    subnet: 192.168.50.0/31\n"),
               "networks[1].subnet", "prefix length /31 is out of range", 17);
}

TEST(Validate, SubnetPrefixTooShort) {
  expect_error(lab_with("    subnet: 192.168.50.0/24\n", "    subnet: 192.0.0.0/7\n"),
               "networks[1].subnet", "a network's subnet must be /8 to /30", 17);
}

TEST(Validate, SubnetsDoNotOverlap) {
  expect_error(lab_with("    subnet: 192.168.50.0/24\n    gateway: 192.168.50.1\n",
                        "    subnet: 10.10.0.0/16\n    gateway: 10.10.1.1\n"),
               "networks[1].subnet", "10.10.0.0/16 overlaps network 'vmnet' (10.10.0.0/24)", 17);
}

TEST(Validate, SubnetDoesNotContainUplinkAddress) {
  expect_error(lab_with("    subnet: 192.168.50.0/24\n    gateway: 192.168.50.1\n",
                        "    subnet: 203.0.113.0/29\n    gateway: 203.0.113.1\n"),
               "networks[1].subnet",
               "203.0.113.0/29 contains the address of uplink 'isp1' (203.0.113.2/24)", 17);
}

TEST(Validate, MasqueradeUplinkKnown) {
  expect_error(lab_with("    masquerade: [isp1]\n\nvms", "    masquerade: [isp1, isp2]\n\nvms"),
               "networks[1].masquerade[1]", "unknown uplink 'isp2'; did you mean 'isp1'?", 19);
}

TEST(Validate, MasqueradeUplinkListedOnce) {
  expect_error(lab_with("    masquerade: [isp1]\n\nvms", "    masquerade: [isp1, isp1]\n\nvms"),
               "networks[1].masquerade[1]", "uplink 'isp1' is listed twice", 19);
}

// --- VMs ---

TEST(Validate, VmNetworkKnown) {
  expect_error(lab_with("    network: vmnet\n    mac: \"52:54:00:00:00:0b\"",
                        "    network: vmnett\n    mac: \"52:54:00:00:00:0b\""),
               "vms[1].network", "unknown network 'vmnett'; did you mean 'vmnet'?", 28);
}

TEST(Validate, VmIpInsideSubnet) {
  expect_error(lab_with("    ip: 10.10.0.11\n", "    ip: 10.10.1.11\n"), "vms[1].ip",
               "10.10.1.11 is outside network 'vmnet' (10.10.0.0/24)", 30);
}

TEST(Validate, VmIpNotNetworkAddress) {
  expect_error(lab_with("    ip: 10.10.0.11\n", "    ip: 10.10.0.0\n"), "vms[1].ip",
               "10.10.0.0 is the network address of network 'vmnet'", 30);
}

TEST(Validate, VmIpNotBroadcast) {
  expect_error(lab_with("    ip: 10.10.0.11\n", "    ip: 10.10.0.255\n"), "vms[1].ip",
               "10.10.0.255 is the broadcast address of network 'vmnet'", 30);
}

TEST(Validate, VmIpNotGateway) {
  expect_error(lab_with("    ip: 10.10.0.11\n", "    ip: 10.10.0.1\n"), "vms[1].ip",
               "10.10.0.1 is the gateway of network 'vmnet'", 30);
}

TEST(Validate, VmIpsUnique) {
  expect_error(lab_with("    ip: 10.10.0.11\n", "    ip: 10.10.0.10\n"), "vms[1].ip",
               "10.10.0.10 is already used by vm 'web'", 30);
}

TEST(Validate, VmMacsUnique) {
  expect_error(lab_with("    mac: \"52:54:00:00:00:0b\"\n", "    mac: \"52:54:00:00:00:0A\"\n"),
               "vms[1].mac", "MAC 52:54:00:00:00:0a is already used by vm 'web'", 29);
}

TEST(Validate, VmMacNotMulticast) {
  expect_error(lab_with("    mac: \"52:54:00:00:00:0b\"\n", "    mac: \"01:00:5e:00:00:01\"\n"),
               "vms[1].mac", "01:00:5e:00:00:01 is a multicast MAC address", 29);
}

TEST(Validate, VmMacNotZero) {
  expect_error(lab_with("    mac: \"52:54:00:00:00:0b\"\n", "    mac: \"00:00:00:00:00:00\"\n"),
               "vms[1].mac", "00:00:00:00:00:00 is not a usable MAC address", 29);
}

// --- port forwards ---

TEST(Validate, ForwardPortZero) {
  expect_error(lab_with("203.0.113.2:8080", "203.0.113.2:0"), "port_forwards[0].public",
               "port 0 is out of range 1-65535", 34);
}

TEST(Validate, ForwardPortTooLarge) {
  expect_error(lab_with("    to: web:80\n", "    to: web:70000\n"), "port_forwards[0].to",
               "port 70000 is out of range 1-65535", 36);
}

TEST(Validate, ForwardReversedRange) {
  expect_error(lab_with("203.0.113.2:8080", "203.0.113.2:90-80"), "port_forwards[0].public",
               "reversed range 90-80", 34);
}

TEST(Validate, ForwardRangesSameSize) {
  expect_error(lab_with(Edits{{"203.0.113.2:8080", "203.0.113.2:8000-8010"},
                              {"    to: web:80\n", "    to: web:80-84\n"}}),
               "port_forwards[0].to", "public range has 11 ports but the VM range has 5", 36);
}

TEST(Validate, ForwardSinglePortStartsVmRange) {
  expect_valid(lab_with(Edits{{"203.0.113.2:8080", "203.0.113.2:8000-8010"},
                              {"    to: web:80\n", "    to: web:9000\n"}}));
}

TEST(Validate, ForwardVmKnown) {
  expect_error(lab_with("    to: web:80\n", "    to: wbe:80\n"), "port_forwards[0].to",
               "unknown vm 'wbe'; did you mean 'web'?", 36);
}

TEST(Validate, ForwardPublicAddressIsUplinkOrElasticIp) {
  expect_error(lab_with("203.0.113.2:8080", "203.0.113.99:8080"), "port_forwards[0].public",
               "203.0.113.99 is neither an uplink address nor inside an elastic IP pool", 34);
  expect_valid(lab_with("203.0.113.2:8080", "203.0.113.20:8080"));
}

TEST(Validate, ForwardOnBoundElasticIpIsAllowed) {
  expect_valid(lab_with("203.0.113.2:8080", "203.0.113.17:8080"));
}

TEST(Validate, ForwardTwice) {
  expect_error(lab_with("    to: web:80\n",
                        "    to: web:80\n  - public: 203.0.113.2:8000-8090\n    to: db:8000\n"),
               "port_forwards[1].public",
               "203.0.113.2:8080/tcp is already forwarded by port_forwards[0]", 37);
}

TEST(Validate, AnOverlapNamesTheFirstEarlierForwardEvenAfterOtherOverlaps) {
  // Overlaps are found by a sorted lookup while the earlier forwards are disjoint, by a scan
  // after the first overlap: both name the first earlier forward, as a scan of all would.
  std::string yaml = testing::kSmallGateway;
  yaml.insert(yaml.find("elastic_ips:"),
              R"(  - {public: "203.0.113.2:9000-9010", to: "web:9000-9010"}
  - {public: "203.0.113.2:9005", to: "web:80"}
  - {public: "203.0.113.2:8990-9100", to: "web:8990-9100"}
  - {public: "203.0.113.2:9200", to: "web:80"}
  - {public: "203.0.113.2:9200", to: "db:80"}
)");
  auto errors = errors_of(yaml);
  std::vector<std::string> got;
  for (const auto& e : errors) got.push_back(e.path + ": " + e.reason);
  EXPECT_EQ(got, (std::vector<std::string>{
                     "port_forwards[2].public: 203.0.113.2:9005/tcp is already forwarded by "
                     "port_forwards[1]",
                     "port_forwards[3].public: 203.0.113.2:9000/tcp is already forwarded by "
                     "port_forwards[1]",
                     "port_forwards[5].public: 203.0.113.2:9200/tcp is already forwarded by "
                     "port_forwards[4]"}));
}

TEST(Validate, ForwardSamePortOtherProtoOrAddressIsFine) {
  expect_valid(lab_with("    to: web:80\n",
                        "    to: web:80\n  - public: 203.0.113.2:8080\n    proto: udp\n    to: "
                        "web:80\n  - public: 203.0.113.20:8080\n    to: db:80\n"));
}

// --- elastic IP pools ---

TEST(Validate, PoolUplinkKnown) {
  expect_error(lab_with("      uplink: isp1\n", "      uplink: isp9\n"),
               "elastic_ips.pools[0].uplink", "unknown uplink 'isp9'", 41);
}

TEST(Validate, PoolReversedRange) {
  expect_error(
      lab_with(Edits{{"      cidr: 203.0.113.16/28\n", "      range: 203.0.113.31-203.0.113.16\n"},
                     {"    - address: 203.0.113.17\n      vm: db\n", ""}}),
      "elastic_ips.pools[0].range", "reversed range 203.0.113.31-203.0.113.16", 42);
}

TEST(Validate, PoolsDoNotOverlap) {
  expect_error(lab_with("      cidr: 203.0.113.16/28\n",
                        "      cidr: 203.0.113.16/28\n    - name: more\n      uplink: isp1\n"
                        "      range: 203.0.113.30-203.0.113.40\n"),
               "elastic_ips.pools[1].range",
               "203.0.113.30-203.0.113.40 overlaps pool 'public' (203.0.113.16-203.0.113.31)", 45);
}

TEST(Validate, PoolDoesNotContainUplinkAddress) {
  expect_error(lab_with(Edits{{"      cidr: 203.0.113.16/28\n", "      cidr: 203.0.113.0/28\n"},
                              {"    - address: 203.0.113.17\n", "    - address: 203.0.113.5\n"}}),
               "elastic_ips.pools[0].cidr",
               "203.0.113.0-203.0.113.15 contains the address of uplink 'isp1' (203.0.113.2)", 42);
}

// --- elastic IP bindings ---

TEST(Validate, BindingPoolKnown) {
  expect_error(lab_with("      vm: db\n", "      vm: db\n      pool: publik\n"),
               "elastic_ips.bindings[0].pool", "unknown pool 'publik'; did you mean 'public'?", 46);
}

TEST(Validate, BindingInsideItsPool) {
  expect_error(lab_with(Edits{{"      cidr: 203.0.113.16/28\n",
                               "      cidr: 203.0.113.16/28\n    - name: second\n      uplink: "
                               "isp1\n      range: 203.0.113.40-203.0.113.49\n"},
                              {"      vm: db\n", "      vm: db\n      pool: second\n"}}),
               "elastic_ips.bindings[0].address",
               "203.0.113.17 is outside pool 'second' (203.0.113.40-203.0.113.49)", 47);
}

TEST(Validate, BindingInsideSomePool) {
  expect_error(lab_with("    - address: 203.0.113.17\n", "    - address: 203.0.113.99\n"),
               "elastic_ips.bindings[0].address", "203.0.113.99 is outside every elastic IP pool",
               44);
}

TEST(Validate, AddressBoundTwice) {
  expect_error(
      lab_with("      vm: db\n", "      vm: db\n    - address: 203.0.113.17\n      vm: web\n"),
      "elastic_ips.bindings[1].address",
      "203.0.113.17 is already bound to vm 'db' (elastic_ips.bindings[0])", 46);
}

TEST(Validate, VmHasOneElasticIp) {
  expect_error(
      lab_with("      vm: db\n", "      vm: db\n    - address: 203.0.113.18\n      vm: db\n"),
      "elastic_ips.bindings[1].vm",
      "vm 'db' already has elastic IP 203.0.113.17 (elastic_ips.bindings[0])", 47);
}

TEST(Validate, BindingVmKnown) {
  expect_error(lab_with("      vm: db\n", "      vm: dbx\n"), "elastic_ips.bindings[0].vm",
               "unknown vm 'dbx'; did you mean 'db'?", 45);
}

// --- host ---

TEST(Validate, HostPortRange) {
  expect_error(lab_with("      port: 22\n", "      port: 0\n"), "host.allow[0].port",
               "port 0 is out of range 1-65535", 50);
  expect_error(lab_with("      port: 22\n", "      port: 30-20\n"), "host.allow[0].port",
               "reversed range 30-20", 50);
}

// --- all together ---

TEST(Validate, FiveMistakesFiveErrorsInFileOrder) {
  // The vms section comes first in the file but is checked after networks: errors are sorted.
  auto errors = errors_of(R"(vms:
  - name: web
    network: vmnet
    mac: "52:54:00:00:00:0a"
    ip: 10.10.1.10
uplinks:
  - name: isp1
    device: wan0
    address: 203.0.113.2/24
networks:
  - name: vmnet
    bridge: wan0
    subnet: 10.10.0.0/24
    gateway: 10.10.0.1
    masquerade: [isp2]
port_forwards:
  - public: 203.0.113.2:8080
    to: web:80-81
host:
  allow:
    - port: 0
)");
  ASSERT_EQ(errors.size(), 5U) << dump(errors);
  EXPECT_EQ(errors[0].path, "vms[0].ip");
  EXPECT_EQ(errors[0].where.line, 5);
  EXPECT_EQ(errors[1].path, "networks[0].bridge");
  EXPECT_EQ(errors[1].where.line, 12);
  EXPECT_EQ(errors[2].path, "networks[0].masquerade[0]");
  EXPECT_EQ(errors[2].where.line, 15);
  EXPECT_EQ(errors[3].path, "port_forwards[0].to");
  EXPECT_EQ(errors[3].where.line, 18);
  EXPECT_EQ(errors[4].path, "host.allow[0].port");
  EXPECT_EQ(errors[4].where.line, 21);
  EXPECT_EQ(errors[0].str(),
            "t.yaml:5:9: vms[0].ip: 10.10.1.10 is outside network 'vmnet' (10.10.0.0/24)");
}

TEST(Validate, ConfigBuiltWithoutYamlGetsPaths) {
  Config c;
  Vm vm;
  vm.name = "web";
  c.vms.push_back(vm);
  auto result = validate(c);
  ASSERT_TRUE(std::holds_alternative<Diagnostics>(result));
  const auto& errors = std::get<Diagnostics>(result);
  ASSERT_EQ(errors.size(), 3U);
  EXPECT_EQ(errors[0].str(), "vms[0].network: missing required field");
}

}  // namespace
}  // namespace vmgw

namespace vmgw {
namespace {

TEST(ValidateLimits, PortForwardsSpanAtMost65536PortsInAll) {
  std::string y = R"(
uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.2/24}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1}
vms:
  - {name: web, network: vmnet, mac: "52:54:00:00:00:0a", ip: 10.10.0.10}
port_forwards:
  - {public: "203.0.113.2:1-65535", proto: tcp, to: "web:1-65535"}
  - {public: "203.0.113.2:1-10", proto: udp, to: "web:1-10"}
)";
  auto parsed = parse_config(y, "t.yaml");
  ASSERT_TRUE(parsed.errors.empty());
  auto r = validate(parsed.config);
  ASSERT_TRUE(std::holds_alternative<Diagnostics>(r));
  const auto& d = std::get<Diagnostics>(r);
  ASSERT_EQ(d.size(), 1u);
  EXPECT_EQ(d[0].path, "port_forwards[1].public");
  EXPECT_NE(d[0].reason.find("at most 65536"), std::string::npos) << d[0].reason;
}

}  // namespace
}  // namespace vmgw

namespace vmgw {
namespace {

// Per-VM filters and quarantine: what the config alone can tell (which filters exist and whether
// their variables resolve is check_filters' job, against the filter catalog).

const char* const kFilterNet = R"(networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1}
vms:
)";

Diagnostics filter_errors(const std::string& vms) {
  auto parsed = parse_config(std::string(kFilterNet) + vms, "t.yaml");
  for (const auto& d : parsed.errors) ADD_FAILURE() << "parse error: " << d.str();
  auto result = validate(parsed.config);
  if (std::holds_alternative<Validated<Config>>(result)) return {};
  return std::get<Diagnostics>(result);
}

std::string filter_dump(const Diagnostics& errors) {
  std::string out;
  for (const auto& d : errors) out += "\n  " + d.str();
  return out;
}

TEST(ValidateFilters, VmWithFiltersAndQuarantineIsValid) {
  auto errors = filter_errors(R"(  - name: web
    network: vmnet
    mac: "52:54:00:00:00:0a"
    ip: 10.10.0.10
    port: vnet-web
    filters:
      - filter: clean-traffic
        params: {IP: [10.10.0.10, 10.10.0.20]}
      - filter: no-such-filter-is-fine-here
    quarantine:
      allow_from: [192.168.50.0/24]
  - {name: db, network: vmnet, mac: "52:54:00:00:00:0b", ip: 10.10.0.11, quarantine: {}}
)");
  EXPECT_TRUE(errors.empty()) << filter_dump(errors);
}

TEST(ValidateFilters, FiltersNeedThePort) {
  auto errors = filter_errors(R"(  - name: web
    network: vmnet
    mac: "52:54:00:00:00:0a"
    ip: 10.10.0.10
    filters:
      - filter: clean-traffic
  - name: db
    network: vmnet
    mac: "52:54:00:00:00:0b"
    ip: 10.10.0.11
    port: vnet-db
    filters:
      - filter: clean-traffic
)");
  ASSERT_EQ(errors.size(), 1U) << filter_dump(errors);
  EXPECT_EQ(errors[0].path, "vms[0].filters");
  EXPECT_NE(errors[0].reason.find("needs its bridge port"), std::string::npos) << errors[0].reason;
  EXPECT_EQ(errors[0].where.file, "t.yaml");
  EXPECT_EQ(errors[0].where.line, 9);  // the filters list
}

TEST(ValidateFilters, BindingNeedsAFilterName) {
  auto errors = filter_errors(R"(  - name: web
    network: vmnet
    mac: "52:54:00:00:00:0a"
    ip: 10.10.0.10
    port: vnet-web
    filters:
      - filter: clean-traffic
      - params: {IP: 10.10.0.10}
)");
  ASSERT_EQ(errors.size(), 1U) << filter_dump(errors);
  EXPECT_EQ(errors[0].path, "vms[0].filters[1].filter");
  EXPECT_NE(errors[0].reason.find("missing"), std::string::npos) << errors[0].reason;
  EXPECT_GT(errors[0].where.line, 0);
}

TEST(ValidateFilters, QuarantineRefusesAllowingEverything) {
  auto errors = filter_errors(R"(  - name: web
    network: vmnet
    mac: "52:54:00:00:00:0a"
    ip: 10.10.0.10
    quarantine:
      allow_from: [192.168.50.0/24, 0.0.0.0/0]
)");
  ASSERT_EQ(errors.size(), 1U) << filter_dump(errors);
  EXPECT_EQ(errors[0].path, "vms[0].quarantine.allow_from");
  EXPECT_NE(errors[0].reason.find("0.0.0.0/0 would allow everything"), std::string::npos)
      << errors[0].reason;
}

TEST(ValidateFilters, ConfigBuiltWithoutYamlGetsPaths) {
  Config c;
  Network n;
  n.name = "vmnet";
  n.bridge = "br-vm";
  n.subnet = Cidr::parse("10.10.0.0/24");
  n.gateway = Ipv4::parse("10.10.0.1");
  c.networks.push_back(n);
  Vm vm;
  vm.name = "web";
  vm.network = "vmnet";
  vm.mac = Mac::parse("52:54:00:00:00:0a");
  vm.ip = Ipv4::parse("10.10.0.10");
  vm.filters.push_back({});
  c.vms.push_back(vm);
  auto result = validate(c);
  ASSERT_TRUE(std::holds_alternative<Diagnostics>(result));
  const auto& errors = std::get<Diagnostics>(result);
  ASSERT_EQ(errors.size(), 2U) << filter_dump(errors);
  std::set<std::string> paths{errors[0].path, errors[1].path};
  EXPECT_EQ(paths, (std::set<std::string>{"vms[0].filters", "vms[0].filters[0].filter"}));
}

}  // namespace
}  // namespace vmgw

namespace vmgw {
namespace {

// --- libvirt (vmgwd follows a libvirt daemon) ---

constexpr const char* kOneNetwork =
    "networks:\n  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1}\n";

TEST(ValidateLibvirt, FollowsNamedNetworksThatExist) {
  expect_valid(std::string(kOneNetwork) + "libvirt: {uri: 'qemu:///system', networks: [vmnet]}\n");
  expect_error(std::string(kOneNetwork) + "libvirt:\n  uri: qemu:///system\n  networks: [lan]\n",
               "libvirt.networks[0]", "unknown network 'lan'", 4);
  expect_error(std::string(kOneNetwork) + "libvirt:\n  uri: x\n  networks: [vmnet, vmnet]\n",
               "libvirt.networks[1]", "network 'vmnet' is listed twice", 4);
}

TEST(ValidateLibvirt, TheUriIsRequired) {
  auto parsed =
      parse_config(std::string(kOneNetwork) + "libvirt:\n  networks: [vmnet]\n", "t.yaml");
  ASSERT_EQ(parsed.errors.size(), 1U);
  EXPECT_EQ(parsed.errors[0].path, "libvirt.uri");
  EXPECT_NE(parsed.errors[0].reason.find("required: libvirt's connection URI"), std::string::npos);
}

}  // namespace
}  // namespace vmgw
