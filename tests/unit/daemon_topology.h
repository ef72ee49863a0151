// The host topology the daemon's unit tests start from: one uplink, one DHCP network of five
// addresses, a pool of two elastic IPs. No VMs: with the daemon they come through the API.
#pragma once

#include <variant>

#include "model/config.h"
#include "model/load.h"

namespace vmgw::daemon::testing {

inline constexpr const char* kTopology = R"(
uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/29, gateway: 10.10.0.1, dhcp: true, masquerade: [isp1]}
elastic_ips:
  pools:
    - {name: public, uplink: isp1, range: 203.0.113.16-203.0.113.17}
)";

inline Config topology() {
  auto r = load_config(kTopology, "vmgw.yaml");
  return std::get<Validated<Config>>(std::move(r)).get();
}

}  // namespace vmgw::daemon::testing
