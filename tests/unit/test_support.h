// Shared helpers for unit tests.
#pragma once

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <variant>

#include "model/parse.h"
#include "model/validate.h"

namespace vmgw::testing {

// Parses and validates YAML that the test knows to be valid; throws with the errors otherwise.
inline Validated<Config> valid_config(const std::string& yaml) {
  auto parsed = parse_config(yaml, "test.yaml");
  std::string errors;
  for (const auto& d : parsed.errors) errors += d.str() + "\n";
  if (!errors.empty()) throw std::runtime_error(errors);
  auto result = validate(std::move(parsed.config));
  if (auto* d = std::get_if<Diagnostics>(&result)) {
    for (const auto& e : *d) errors += e.str() + "\n";
    throw std::runtime_error(errors);
  }
  return std::get<Validated<Config>>(std::move(result));
}

// A small gateway: one uplink, one VM network, two VMs, a forward and an elastic IP.
inline const char* kSmallGateway = R"(
uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, dhcp: true, masquerade: [isp1]}
vms:
  - {name: web, network: vmnet, mac: "52:54:00:00:00:0a", ip: 10.10.0.10, port: vnet-web}
  - {name: db, network: vmnet, mac: "52:54:00:00:00:0b", ip: 10.10.0.11}
port_forwards:
  - {public: "203.0.113.2:8080", to: "web:80"}
elastic_ips:
  pools:
    - {name: public, uplink: isp1, cidr: 203.0.113.16/28}
  bindings:
    - {address: 203.0.113.17, vm: db}
)";

// The demo lab's configuration as in examples/lab.yaml (tests refer to its line numbers).
inline const char* const kLabYaml = R"(# The demo lab's gateway.
uplinks:
  - name: isp1
    device: wan0
    address: 203.0.113.2/24      # the host's public address
    gateway: 203.0.113.1

networks:
  - name: vmnet
    bridge: br-vm
    subnet: 10.10.0.0/24
    gateway: 10.10.0.1
    dhcp: true
    masquerade: [isp1]
  - name: lan
    bridge: lan0
    subnet: 192.168.50.0/24
    gateway: 192.168.50.1
    masquerade: [isp1]

vms:
  - name: web
    network: vmnet
    mac: "52:54:00:00:00:0a"
    ip: 10.10.0.10
    port: vnet-web
  - name: db
    network: vmnet
    mac: "52:54:00:00:00:0b"
    ip: 10.10.0.11
    port: vnet-db

port_forwards:
  - public: 203.0.113.2:8080
    proto: tcp
    to: web:80

elastic_ips:
  pools:
    - name: public
      uplink: isp1
      cidr: 203.0.113.16/28
  bindings:
    - address: 203.0.113.17
      vm: db

host:
  allow:
    - proto: tcp
      port: 22
      interface: lan0
      from: 192.168.50.0/24
)";

}  // namespace vmgw::testing
