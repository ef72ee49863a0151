// YAML -> Config: the good path (the lab example) and every structural error with its exact
// file:line:column and message.

#include "model/parse.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "test_support.h"

namespace vmgw {
namespace {

const char* const kLab = testing::kLabYaml;

std::vector<std::string> errors_of(const ParseResult& r) {
  std::vector<std::string> out;
  for (const auto& d : r.errors) out.push_back(d.str());
  return out;
}

std::vector<std::string> errors_of(const std::string& yaml) {
  return errors_of(parse_config(yaml, "t.yaml"));
}

using Lines = std::vector<std::string>;

TEST(Parse, LabExample) {
  auto r = parse_config(kLab, "lab.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  const Config& c = r.config;
  EXPECT_EQ(c.source, "lab.yaml");

  ASSERT_EQ(c.uplinks.size(), 1U);
  const Uplink& u = c.uplinks[0];
  EXPECT_EQ(u.name, "isp1");
  EXPECT_EQ(u.device, "wan0");
  EXPECT_EQ(u.address->str(), "203.0.113.2/24");
  EXPECT_EQ(u.gateway->str(), "203.0.113.1");
  EXPECT_EQ(u.origin.path, "uplinks[0]");
  EXPECT_EQ(u.origin.at("").line, 3);
  EXPECT_EQ(u.origin.at("").column, 5);
  EXPECT_EQ(u.origin.at("address").line, 5);
  EXPECT_EQ(u.origin.at("address").column, 14);
  EXPECT_EQ(u.origin.at("address").file, "lab.yaml");
  EXPECT_EQ(u.origin.at("nonexistent").line, 3);  // falls back to the object

  ASSERT_EQ(c.networks.size(), 2U);
  const Network& n = c.networks[0];
  EXPECT_EQ(n.name, "vmnet");
  EXPECT_EQ(n.bridge, "br-vm");
  EXPECT_EQ(n.subnet->str(), "10.10.0.0/24");
  EXPECT_EQ(n.gateway->str(), "10.10.0.1");
  EXPECT_TRUE(n.dhcp);
  EXPECT_EQ(n.masquerade, std::vector<std::string>{"isp1"});
  EXPECT_TRUE(n.dns_servers.empty());
  EXPECT_FALSE(c.networks[1].dhcp);  // default
  EXPECT_EQ(n.origin.at("masquerade[0]").line, 14);
  EXPECT_EQ(n.origin.at("masquerade[0]").column, 18);

  ASSERT_EQ(c.vms.size(), 2U);
  EXPECT_EQ(c.vms[0].name, "web");
  EXPECT_EQ(c.vms[0].network, "vmnet");
  EXPECT_EQ(c.vms[0].mac->str(), "52:54:00:00:00:0a");
  EXPECT_EQ(c.vms[0].ip->str(), "10.10.0.10");
  EXPECT_EQ(c.vms[0].port, "vnet-web");
  EXPECT_EQ(c.vms[1].origin.path, "vms[1]");

  ASSERT_EQ(c.port_forwards.size(), 1U);
  const PortForward& f = c.port_forwards[0];
  EXPECT_EQ(f.public_address->str(), "203.0.113.2");
  EXPECT_EQ(f.public_ports->str(), "8080");
  EXPECT_EQ(f.proto, Proto::tcp);
  EXPECT_EQ(f.vm, "web");
  EXPECT_EQ(f.vm_ports->str(), "80");

  ASSERT_EQ(c.eip_pools.size(), 1U);
  EXPECT_EQ(c.eip_pools[0].name, "public");
  EXPECT_EQ(c.eip_pools[0].uplink, "isp1");
  EXPECT_EQ(c.eip_pools[0].first->str(), "203.0.113.16");
  EXPECT_EQ(c.eip_pools[0].last->str(), "203.0.113.31");
  EXPECT_EQ(c.eip_pools[0].origin.path, "elastic_ips.pools[0]");
  ASSERT_EQ(c.eip_bindings.size(), 1U);
  EXPECT_EQ(c.eip_bindings[0].address->str(), "203.0.113.17");
  EXPECT_EQ(c.eip_bindings[0].vm, "db");
  EXPECT_EQ(c.eip_bindings[0].pool, "");

  ASSERT_EQ(c.host.allow.size(), 1U);
  const HostService& s = c.host.allow[0];
  EXPECT_EQ(s.proto, Proto::tcp);
  ASSERT_EQ(s.ports.size(), 1U);
  EXPECT_EQ(s.ports[0].str(), "22");
  EXPECT_EQ(s.interfaces, std::vector<std::string>{"lan0"});
  ASSERT_EQ(s.from.size(), 1U);
  EXPECT_EQ(s.from[0].str(), "192.168.50.0/24");
  EXPECT_EQ(s.origin.path, "host.allow[0]");
  EXPECT_TRUE(c.host.allow_ping);  // default
}

TEST(Parse, EmptyInputIsAnEmptyConfig) {
  for (const char* text : {"", "# nothing yet\n", "---\n", "uplinks:\nnetworks: []\nhost:\n"}) {
    auto r = parse_config(text, "t.yaml");
    EXPECT_EQ(errors_of(r), Lines{}) << text;
    EXPECT_TRUE(r.config.uplinks.empty());
    EXPECT_TRUE(r.config.networks.empty());
    EXPECT_TRUE(r.config.host.allow_ping);
  }
}

TEST(Parse, OptionalFieldsAndAlternativeForms) {
  auto r = parse_config(R"(networks:
  - name: n
    bridge: br0
    subnet: 10.0.0.0/24
    gateway: 10.0.0.1
    dhcp: false
    dns_servers: [1.1.1.1, 9.9.9.9]
vms:
  - {name: a, network: n, mac: 52-54-00-00-00-01, ip: 10.0.0.2}
port_forwards:
  - public: 203.0.113.2:8000-8010
    proto: udp
    to: web:9000-9010
elastic_ips:
  pools:
    - name: p
      uplink: isp1
      range: 203.0.113.40-203.0.113.49
  bindings:
    - address: 203.0.113.41
      vm: a
      pool: p
host:
  allow_ping: false
  allow:
    - port: "53"
      proto: udp
    - port: 8000-8010
)",
                        "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  const Config& c = r.config;
  ASSERT_EQ(c.networks[0].dns_servers.size(), 2U);
  EXPECT_EQ(c.networks[0].dns_servers[1].str(), "9.9.9.9");
  EXPECT_EQ(c.vms[0].mac->str(), "52:54:00:00:00:01");
  EXPECT_EQ(c.vms[0].port, "");
  EXPECT_EQ(c.port_forwards[0].proto, Proto::udp);
  EXPECT_EQ(c.port_forwards[0].public_ports->str(), "8000-8010");
  EXPECT_EQ(c.port_forwards[0].vm_ports->str(), "9000-9010");
  EXPECT_EQ(c.eip_pools[0].first->str(), "203.0.113.40");
  EXPECT_EQ(c.eip_pools[0].last->str(), "203.0.113.49");
  EXPECT_EQ(c.eip_bindings[0].pool, "p");
  EXPECT_FALSE(c.host.allow_ping);
  EXPECT_EQ(c.host.allow[0].ports, (std::vector<PortRange>{PortRange{53, 53}}));
  EXPECT_EQ(c.host.allow[0].proto, Proto::udp);
  EXPECT_EQ(c.host.allow[1].ports, (std::vector<PortRange>{PortRange{8000, 8010}}));
  EXPECT_EQ(c.host.allow[1].proto, Proto::tcp);
  EXPECT_TRUE(c.host.allow[1].interfaces.empty());
  EXPECT_TRUE(c.host.allow[1].from.empty());
}

TEST(Parse, HostServiceListsNamesAndRates) {
  auto r = parse_config(R"(host:
  allow:
    - {port: [ssh, 8000-8010, 443], interface: [lan0, br-vm], from: [10.0.0.0/8, 192.168.0.0/16],
       to: 192.168.50.1/32, limit: 100/minute, per_source: 5/minute}
    - {proto: udp, port: ntp}
)",
                        "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  const HostService& s = r.config.host.allow[0];
  EXPECT_EQ(s.ports, (std::vector<PortRange>{{22, 22}, {8000, 8010}, {443, 443}}));
  EXPECT_EQ(s.port_text, (std::vector<std::string>{"ssh", "8000-8010", "443"}));
  EXPECT_EQ(s.interfaces, (std::vector<std::string>{"lan0", "br-vm"}));
  EXPECT_EQ(s.from.size(), 2U);
  EXPECT_EQ(s.to.size(), 1U);
  EXPECT_EQ(s.limit, (ConnectionRate{100, "minute"}));
  EXPECT_EQ(s.per_source, (ConnectionRate{5, "minute"}));
  EXPECT_TRUE(s.has_port(8005));
  EXPECT_FALSE(s.has_port(80));
  EXPECT_EQ(r.config.host.allow[1].ports, (std::vector<PortRange>{PortRange{123, 123}}));
}

TEST(Parse, SingleVmPortWithPublicRangeStartsTheVmRange) {
  auto r = parse_config("port_forwards:\n  - public: 203.0.113.2:8000-8010\n    to: web:9000\n",
                        "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  EXPECT_EQ(r.config.port_forwards[0].vm_ports->str(), "9000-9010");
}

TEST(Parse, PortsOutOfRangeAreLeftToTheValidator) {
  auto r = parse_config("port_forwards:\n  - public: 203.0.113.2:0\n    to: web:70000\n", "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  EXPECT_EQ(r.config.port_forwards[0].public_ports->first, 0U);
  EXPECT_EQ(r.config.port_forwards[0].vm_ports->first, 70000U);
}

TEST(Parse, YamlSyntaxErrorIsOneLocatedError) {
  EXPECT_EQ(errors_of("vms: [a, b\nuplinks: 3\n"),
            Lines{"t.yaml:2:8: YAML syntax error: end of sequence flow not found"});
  EXPECT_EQ(errors_of("uplinks:\n  - name: a\n\tdevice: b\n"),
            Lines{"t.yaml:3:1: YAML syntax error: illegal tab when looking for indentation"});
}

TEST(Parse, OnlyOneDocument) {
  // Located at the "---" that starts the second document.
  EXPECT_EQ(errors_of("uplinks: []\n---\nnetworks: []\n"),
            Lines{"t.yaml:2:1: only one YAML document is allowed (found another one)"});
}

TEST(Parse, MalformedInputThatMadeYamlCppLoadAllLoopForeverReturns) {
  // Found by the config fuzzer: yaml-cpp 0.7's LoadAll allocated without end on this input.
  const std::string input =
      ", interface: lan0, from: 192.168.50ort: 22, interface: lan0, from: 192.168.50.0/=24}\n"
      "    - {proto: tcp, por0.0.0.0/8}\n";
  EXPECT_FALSE(errors_of(input).empty());
}

TEST(Parse, UnknownFieldSuggestsTheClosestKey) {
  EXPECT_EQ(errors_of("vms:\n  - name: web\n    macc: 52:54:00:00:00:01\n"),
            Lines{"t.yaml:3:5: vms[0].macc: unknown field 'macc'; did you mean 'mac'?"});
  EXPECT_EQ(errors_of("vms:\n  - name: web\n    colour: blue\n"),
            Lines{"t.yaml:3:5: vms[0].colour: unknown field 'colour'"});
  EXPECT_EQ(errors_of("uplink:\n  - name: a\n"),
            Lines{"t.yaml:1:1: uplink: unknown field 'uplink'; did you mean 'uplinks'?"});
  EXPECT_EQ(errors_of("elastic_ips:\n  pool: []\n"),
            Lines{"t.yaml:2:3: elastic_ips.pool: unknown field 'pool'; did you mean 'pools'?"});
  EXPECT_EQ(errors_of("host:\n  allow_pings: true\n"),
            Lines{"t.yaml:2:3: host.allow_pings: unknown field 'allow_pings'; did you mean "
                  "'allow_ping'?"});
}

TEST(Parse, DuplicateField) {
  EXPECT_EQ(errors_of("vms:\n  - name: web\n    name: db\n"),
            Lines{"t.yaml:3:5: vms[0].name: field 'name' is given twice"});
}

TEST(Parse, WrongNodeKinds) {
  EXPECT_EQ(errors_of("- a\n- b\n"), Lines{"t.yaml:1:1: expected a map, got a list"});
  EXPECT_EQ(errors_of("uplinks:\n  name: isp1\n"),
            Lines{"t.yaml:2:3: uplinks: expected a list, got a map"});
  EXPECT_EQ(errors_of("vms:\n  - web\n"), Lines{"t.yaml:2:5: vms[0]: expected a map, got 'web'"});
  EXPECT_EQ(errors_of("vms:\n  - name: [a, b]\n"),
            Lines{"t.yaml:2:11: vms[0].name: expected a single value, got a list"});
  EXPECT_EQ(errors_of("networks:\n  - masquerade: isp1\n"),
            Lines{"t.yaml:2:17: networks[0].masquerade: expected a list, got 'isp1'"});
  EXPECT_EQ(errors_of("elastic_ips: [a]\n"),
            Lines{"t.yaml:1:14: elastic_ips: expected a map, got a list"});
  EXPECT_EQ(errors_of("vms:\n  - {name: a, ip: {x: 1}}\n"),
            Lines{"t.yaml:2:19: vms[0].ip: expected an IPv4 address, got a map"});
  EXPECT_EQ(errors_of("vms:\n  - ? [a]\n    : 1\n"),
            Lines{"t.yaml:2:7: vms[0]: keys must be plain names, got a list"});
}

TEST(Parse, EmptyValueIsAnErrorAtItsKey) {
  EXPECT_EQ(errors_of("vms:\n  - name:\n    ip: 10.0.0.1\n"),
            Lines{"t.yaml:2:5: vms[0].name: expected a single value, got nothing"});
}

TEST(Parse, EmptyStringIsAnError) {
  EXPECT_EQ(errors_of("vms:\n  - name: \"\"\n"),
            Lines{"t.yaml:2:11: vms[0].name: expected a single value, got an empty string"});
}

TEST(Parse, BadIpv4) {
  EXPECT_EQ(errors_of("vms:\n  - ip: 10.0.0.300\n"),
            Lines{"t.yaml:2:9: vms[0].ip: '10.0.0.300' is not an IPv4 address"});
  EXPECT_EQ(errors_of("networks:\n  - dns_servers: [1.1.1.1, dns.google]\n"),
            Lines{"t.yaml:2:28: networks[0].dns_servers[1]: 'dns.google' is not an IPv4 address"});
}

TEST(Parse, BadMac) {
  EXPECT_EQ(errors_of("vms:\n  - mac: \"52:54:00:zz:00:01\"\n"),
            Lines{"t.yaml:2:10: vms[0].mac: '52:54:00:zz:00:01' is not a MAC address (expected "
                  "aa:bb:cc:dd:ee:ff)"});
}

TEST(Parse, BadCidr) {
  EXPECT_EQ(errors_of("networks:\n  - subnet: 10.0.0.1/24\n"),
            Lines{"t.yaml:2:13: networks[0].subnet: '10.0.0.1/24' has host bits set; did you mean "
                  "10.0.0.0/24?"});
  EXPECT_EQ(errors_of("networks:\n  - subnet: 10.0.0.0\n"),
            Lines{"t.yaml:2:13: networks[0].subnet: '10.0.0.0' is not a prefix (expected "
                  "a.b.c.d/n)"});
  EXPECT_EQ(errors_of("host:\n  allow:\n    - {port: 22, from: 192.168.50.7/24}\n"),
            Lines{"t.yaml:3:24: host.allow[0].from: '192.168.50.7/24' has host bits set; did you "
                  "mean 192.168.50.0/24?"});
}

TEST(Parse, BadInterfaceAddress) {
  EXPECT_EQ(errors_of("uplinks:\n  - address: 203.0.113.2\n"),
            Lines{"t.yaml:2:14: uplinks[0].address: '203.0.113.2' has no prefix length (expected "
                  "a.b.c.d/n, e.g. 203.0.113.2/24)"});
  EXPECT_EQ(errors_of("uplinks:\n  - address: 203.0.113.2/40\n"),
            Lines{"t.yaml:2:14: uplinks[0].address: '203.0.113.2/40' is not an address with "
                  "prefix length (expected a.b.c.d/n)"});
}

TEST(Parse, BadBoolean) {
  EXPECT_EQ(errors_of("networks:\n  - dhcp: yes\n"),
            Lines{"t.yaml:2:11: networks[0].dhcp: 'yes' is not a boolean (expected true or "
                  "false)"});
  EXPECT_EQ(errors_of("host:\n  allow_ping: 1\n"),
            Lines{"t.yaml:2:15: host.allow_ping: '1' is not a boolean (expected true or false)"});
}

TEST(Parse, BadProto) {
  EXPECT_EQ(errors_of("port_forwards:\n  - proto: sctp\n"),
            Lines{"t.yaml:2:12: port_forwards[0].proto: 'sctp' is not a protocol (expected tcp or "
                  "udp)"});
}

TEST(Parse, BadPorts) {
  EXPECT_EQ(errors_of("host:\n  allow:\n    - port: ssh\n"), Lines{});  // a service name
  EXPECT_EQ(errors_of("host:\n  allow:\n    - port: ntp\n"),
            Lines{"t.yaml:3:13: host.allow[0].port: 'ntp' is udp/123, not tcp: give proto: udp "
                  "(one entry per protocol)"});
  EXPECT_EQ(errors_of("port_forwards:\n  - public: 203.0.113.2:http\n"),
            Lines{"t.yaml:2:13: port_forwards[0].public: 'http' is not a port or port range "
                  "(expected 80 or 8000-8010)"});
  EXPECT_EQ(errors_of("port_forwards:\n  - to: web:80-\n"),
            Lines{"t.yaml:2:9: port_forwards[0].to: '80-' is not a port or port range (expected "
                  "80 or 8000-8010)"});
}

TEST(Parse, BadEndpoints) {
  EXPECT_EQ(errors_of("port_forwards:\n  - public: 203.0.113.2\n    to: web\n"),
            (Lines{"t.yaml:2:13: port_forwards[0].public: '203.0.113.2' has no port (expected "
                   "ADDR:PORT or ADDR:FIRST-LAST)",
                   "t.yaml:3:9: port_forwards[0].to: 'web' has no port (expected VM:PORT or "
                   "VM:FIRST-LAST)"}));
  EXPECT_EQ(errors_of("port_forwards:\n  - public: 203.0.113.256:80\n"),
            Lines{"t.yaml:2:13: port_forwards[0].public: '203.0.113.256' is not an IPv4 address"});
}

TEST(Parse, PoolCidrOrRange) {
  EXPECT_EQ(errors_of("elastic_ips:\n  pools:\n    - cidr: 203.0.113.16/28\n      range: "
                      "203.0.113.16-203.0.113.31\n"),
            Lines{"t.yaml:4:14: elastic_ips.pools[0].range: give either 'cidr' or 'range', not "
                  "both"});
  EXPECT_EQ(errors_of("elastic_ips:\n  pools:\n    - range: 203.0.113.16\n"),
            Lines{"t.yaml:3:14: elastic_ips.pools[0].range: '203.0.113.16' is not an address "
                  "range (expected A-B)"});
  EXPECT_EQ(errors_of("elastic_ips:\n  pools:\n    - range: 203.0.113.16-203.0.113.310\n"),
            Lines{"t.yaml:3:14: elastic_ips.pools[0].range: '203.0.113.310' is not an IPv4 "
                  "address"});
}

TEST(Parse, CollectsEveryErrorInOrder) {
  auto errors = errors_of(R"(uplinks:
  - name: isp1
    adress: 203.0.113.2/24
vms:
  - name: web
    mac: 52:54:00:00:00:0g
    ip: 10.0.0.256
  - name: db
    dhcp: true
host:
  allow_ping: maybe
)");
  EXPECT_EQ(errors,
            (Lines{"t.yaml:3:5: uplinks[0].adress: unknown field 'adress'; did you mean 'address'?",
                   "t.yaml:6:10: vms[0].mac: '52:54:00:00:00:0g' is not a MAC address (expected "
                   "aa:bb:cc:dd:ee:ff)",
                   "t.yaml:7:9: vms[0].ip: '10.0.0.256' is not an IPv4 address",
                   "t.yaml:9:5: vms[1].dhcp: unknown field 'dhcp'",
                   "t.yaml:11:15: host.allow_ping: 'maybe' is not a boolean (expected true or "
                   "false)"}));
}

TEST(Parse, IntegersAsNumbersOrStrings) {
  auto r = parse_config("host:\n  allow:\n    - port: 22\n    - port: \"22\"\n", "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  EXPECT_EQ(r.config.host.allow[0].ports, r.config.host.allow[1].ports);
}

TEST(ParseFile, ReadsAFile) {
  std::string path = ::testing::TempDir() + "vmgw_parse_test.yaml";
  {
    std::ofstream out(path);
    out << "uplinks:\n  - name: isp1\n    devise: wan0\n";
  }
  auto r = parse_config_file(path);
  std::remove(path.c_str());
  EXPECT_EQ(r.config.source, path);
  EXPECT_EQ(
      errors_of(r),
      Lines{path + ":3:5: uplinks[0].devise: unknown field 'devise'; did you mean 'device'?"});
}

TEST(ParseFile, MissingFileIsOneError) {
  auto r = parse_config_file("/nonexistent/vmgw.yaml");
  EXPECT_EQ(errors_of(r),
            Lines{"/nonexistent/vmgw.yaml: cannot read file: No such file or directory"});
}

TEST(ParseFile, DirectoryIsOneError) {
  auto r = parse_config_file("/");
  EXPECT_EQ(errors_of(r), Lines{"/: cannot read file: Is a directory"});
}

}  // namespace
}  // namespace vmgw

namespace vmgw {
namespace {

// Per-VM filters: `vms[].filters`, `vms[].quarantine` and the top-level `filters` file list.

std::vector<std::string> parse_errors(const std::string& yaml) {
  std::vector<std::string> out;
  for (const auto& d : parse_config(yaml, "t.yaml").errors) out.push_back(d.str());
  return out;
}

TEST(ParseFilters, BindingsParamsQuarantineAndFilterFiles) {
  auto r = parse_config(R"(filters: [web.xml, /etc/vmgw/filters/db.xml]
vms:
  - name: web
    network: n
    port: vnet-web
    filters:
      - filter: clean-traffic
        params:
          IP: [10.0.0.3, 10.0.0.2]
          MAC: "52:54:00:00:00:01"
          DNS: [9.9.9.9]
      - filter: allow-dhcp
      - {filter: web-server, params: {}}
    quarantine:
      allow_from: [192.168.50.0/24, 10.0.0.1/32]
)",
                        "t.yaml");
  for (const auto& d : r.errors) ADD_FAILURE() << d.str();
  EXPECT_EQ(r.config.filter_files,
            (std::vector<std::string>{"web.xml", "/etc/vmgw/filters/db.xml"}));
  ASSERT_EQ(r.config.vms.size(), 1U);
  const Vm& v = r.config.vms[0];
  EXPECT_EQ(v.port, "vnet-web");
  ASSERT_EQ(v.filters.size(), 3U);
  EXPECT_EQ(v.filters[0].filter, "clean-traffic");
  // A list value gives the name once per value, in the order written; names in written order.
  using Params = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(v.filters[0].params, (Params{{"IP", "10.0.0.3"},
                                         {"IP", "10.0.0.2"},
                                         {"MAC", "52:54:00:00:00:01"},
                                         {"DNS", "9.9.9.9"}}));
  EXPECT_EQ(v.filters[0].origin.path, "vms[0].filters[0]");
  EXPECT_EQ(v.filters[0].origin.at("").line, 7);
  EXPECT_EQ(v.filters[1].filter, "allow-dhcp");
  EXPECT_TRUE(v.filters[1].params.empty());
  EXPECT_EQ(v.filters[2].filter, "web-server");
  EXPECT_TRUE(v.filters[2].params.empty());
  ASSERT_TRUE(v.quarantine.has_value());
  ASSERT_EQ(v.quarantine->allow_from.size(), 2U);
  EXPECT_EQ(v.quarantine->allow_from[0].str(), "192.168.50.0/24");
  EXPECT_EQ(v.quarantine->allow_from[1].str(), "10.0.0.1/32");
}

TEST(ParseFilters, QuarantineWithoutSourcesAndNoQuarantine) {
  auto r = parse_config(
      "vms:\n  - {name: a, quarantine: }\n  - {name: b, quarantine: {}}\n"
      "  - {name: c}\n",
      "t.yaml");
  EXPECT_TRUE(r.errors.empty());
  ASSERT_EQ(r.config.vms.size(), 3U);
  ASSERT_TRUE(r.config.vms[0].quarantine.has_value());
  EXPECT_TRUE(r.config.vms[0].quarantine->allow_from.empty());
  ASSERT_TRUE(r.config.vms[1].quarantine.has_value());
  EXPECT_FALSE(r.config.vms[2].quarantine.has_value());
  EXPECT_TRUE(r.config.vms[2].filters.empty());
}

TEST(ParseFilters, UnknownKeyInABindingIsReported) {
  EXPECT_EQ(
      parse_errors("vms:\n  - name: a\n    filters:\n      - {filter: f, parms: {IP: 10.0.0.1}}\n"),
      (std::vector<std::string>{
          "t.yaml:4:21: vms[0].filters[0].parms: unknown field 'parms'; did you mean 'params'?"}));
  EXPECT_EQ(
      parse_errors("vms:\n  - name: a\n    quarantine: {allow: [10.0.0.0/8]}\n"),
      (std::vector<std::string>{"t.yaml:3:18: vms[0].quarantine.allow: unknown field 'allow'"}));
}

TEST(ParseFilters, WrongShapes) {
  EXPECT_EQ(parse_errors("vms:\n  - name: a\n    filters: clean-traffic\n"),
            (std::vector<std::string>{
                "t.yaml:3:14: vms[0].filters: expected a list, got 'clean-traffic'"}));
  EXPECT_EQ(parse_errors("vms:\n  - name: a\n    filters: [clean-traffic]\n"),
            (std::vector<std::string>{
                "t.yaml:3:15: vms[0].filters[0]: expected a map, got 'clean-traffic'"}));
  EXPECT_EQ(parse_errors("vms:\n  - name: a\n    filters:\n      - {filter: f, params: [IP]}\n"),
            (std::vector<std::string>{"t.yaml:4:29: vms[0].filters[0].params: expected a map of "
                                      "NAME: value, got a list"}));
  EXPECT_EQ(
      parse_errors("vms:\n  - name: a\n    filters:\n      - {filter: f, params: {IP: {a: b}}}\n"),
      (std::vector<std::string>{"t.yaml:4:34: vms[0].filters[0].params.IP: expected a value or a "
                                "list of values, got a map"}));
  EXPECT_EQ(parse_errors("vms:\n  - name: a\n    quarantine:\n      allow_from: [10.0.0.1/8]\n"),
            (std::vector<std::string>{
                "t.yaml:4:20: vms[0].quarantine.allow_from[0]: '10.0.0.1/8' has host bits set; did "
                "you mean 10.0.0.0/8?"}));
  EXPECT_EQ(parse_errors("filters: web.xml\n"),
            (std::vector<std::string>{"t.yaml:1:10: filters: expected a list, got 'web.xml'"}));
}

TEST(ParseHost, ConnectionCounts) {
  auto r = parse_config("host:\n  flows_per_vm: 500\n  conntrack_max: 1048576\n", "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  EXPECT_EQ(r.config.host.flows_per_vm, 500U);
  EXPECT_EQ(r.config.host.conntrack_max, 1048576U);
  EXPECT_EQ(parse_config("host: {}\n", "t.yaml").config.host.conntrack_max, 262144U);
  EXPECT_EQ(errors_of("host:\n  conntrack_max: 99999999999\n"),
            Lines{"t.yaml:2:18: host.conntrack_max: expected a number of connections from 0 (the "
                  "host's) to 64000000, got '99999999999'"});
  EXPECT_EQ(errors_of("host:\n  flows_per_vm: -1\n"),
            Lines{"t.yaml:2:17: host.flows_per_vm: expected a number of connections from 0 (no "
                  "limit) to 10000000, got '-1'"});
}

TEST(ParseLeaseEvents, Retention) {
  auto r = parse_config("lease_events:\n  keep: 500\n  max_age_days: 7\n", "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  EXPECT_EQ(r.config.lease_events.keep, 500U);
  EXPECT_EQ(r.config.lease_events.max_age_days, 7U);
  EXPECT_EQ(parse_config("", "t.yaml").config.lease_events.keep, 10000U);
  EXPECT_EQ(errors_of("lease_events:\n  keep: 0\n"),
            Lines{"t.yaml:2:9: lease_events.keep: expected a number of events from 1 to 1000000, "
                  "got '0'"});
  EXPECT_EQ(errors_of("lease_events:\n  days: 3\n"),
            Lines{"t.yaml:2:3: lease_events.days: unknown field 'days'"});
}

// yaml-cpp calls a nesting past its depth guard "bad file": the message says what it is.
TEST(Parse, DeepNestingIsNamed) {
  std::string deep = "host: " + std::string(2100, '[') + std::string(2100, ']') + "\n";
  auto errors = errors_of(deep);
  ASSERT_EQ(errors.size(), 1U);
  EXPECT_NE(errors[0].find("YAML nested too deeply (more than 499 levels of lists and maps)"),
            std::string::npos)
      << errors[0];
}

TEST(ParseHost, DropLogLimits) {
  auto defaults = parse_config("host: {}\n", "t.yaml").config.host.drop_log;
  EXPECT_EQ(defaults, (DropLogLimit{100, 100, 20}));
  auto r = parse_config("host:\n  drop_log: {rate: 50, burst: 10, per_source: 0}\n", "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  EXPECT_EQ(r.config.host.drop_log, (DropLogLimit{50, 10, 0}));
  EXPECT_EQ(errors_of("host:\n  drop_log: {rate: 0}\n"),
            Lines{"t.yaml:2:20: host.drop_log.rate: expected a number of packets per second from 1 "
                  "to 1000000, got '0'"});
  EXPECT_EQ(errors_of("host:\n  drop_log: {per_second: 5}\n"),
            Lines{"t.yaml:2:14: host.drop_log.per_second: unknown field 'per_second'"});
}

TEST(ParseApi, GroupsByNameOrGidAndTheShare) {
  auto defaults = parse_config("", "t.yaml").config.api;
  EXPECT_EQ(defaults, (ApiSettings{"vmgw", "vmgw-ro", 64}));
  auto r = parse_config(
      "api:\n  group: \"1234\"\n  read_only_group: ops-ro\n  connections_per_user: 8\n", "t.yaml");
  ASSERT_EQ(errors_of(r), Lines{});
  EXPECT_EQ(r.config.api, (ApiSettings{"1234", "ops-ro", 8}));
  EXPECT_EQ(errors_of("api:\n  group: \"a b\"\n"),
            Lines{"t.yaml:2:10: api.group: 'a b' is not a group name or gid"});
  EXPECT_EQ(errors_of("api:\n  connections_per_user: 300\n"),
            Lines{"t.yaml:2:25: api.connections_per_user: expected a number of connections from 1 "
                  "to 224, got '300'"});
}

TEST(ParseStatus, ListenAddressOrLoopbackPort) {
  EXPECT_FALSE(parse_config("", "t.yaml").config.status_listen);
  auto port_only = parse_config("status:\n  listen: 8089\n", "t.yaml");
  ASSERT_EQ(errors_of(port_only), Lines{});
  ASSERT_TRUE(port_only.config.status_listen);
  EXPECT_EQ(port_only.config.status_listen->address.str(), "127.0.0.1");
  EXPECT_EQ(port_only.config.status_listen->port, 8089);
  auto both = parse_config("status: {listen: \"10.0.0.1:80\"}\n", "t.yaml");
  ASSERT_EQ(errors_of(both), Lines{});
  EXPECT_EQ(both.config.status_listen->address.str(), "10.0.0.1");
  EXPECT_EQ(both.config.status_listen->port, 80);
  EXPECT_EQ(errors_of("status:\n  listen: \"localhost:80\"\n"),
            Lines{"t.yaml:2:11: status.listen: 'localhost:80' is not ADDRESS:PORT (an IPv4 "
                  "address) or PORT"});
  EXPECT_EQ(errors_of("status:\n  listen: \"127.0.0.1:70000\"\n"),
            Lines{"t.yaml:2:11: status.listen: '127.0.0.1:70000' has no port from 1 to 65535 "
                  "(ADDRESS:PORT or PORT)"});
  EXPECT_EQ(errors_of("status:\n  port: 80\n"),
            Lines{"t.yaml:2:3: status.port: unknown field 'port'"});
  // A refused value leaves nothing half set.
  EXPECT_FALSE(parse_config("status:\n  listen: \"x:1\"\n", "t.yaml").config.status_listen);
}

}  // namespace
}  // namespace vmgw
