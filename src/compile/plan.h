// A Plan is everything vmgw wants the host to hold for one validated config: the nftables
// table, the links/addresses/routes, the sysctls and the DHCP servers. It is a pure value:
// compiling the same config twice gives byte-identical plans.
#pragma once

#include <string>
#include <vector>

#include "model/net.h"
#include "nft/table.h"

namespace vmgw {

struct PlannedSysctl {
  std::string key;    // path below /proc/sys, e.g. "net/ipv4/ip_forward"
  std::string value;  // "1"
  // Skipped (and reported) when the kernel lacks the key: a feature that may not be loaded.
  bool if_present = false;
  // A number the kernel's value must be at least: raised to it, never lowered. Such a key is
  // host-wide (nf_conntrack_max): where the kernel makes it read-only (any network namespace but
  // the host's) it is left as it is.
  bool at_least = false;
};

struct PlannedBridge {
  std::string name;  // created as a bridge if no device of that name exists
};

struct PlannedPort {
  std::string device;  // a VM's tap/veth: made a port of `bridge` when it exists
  std::string bridge;
};

struct PlannedAddress {
  std::string device;
  InterfaceAddress address;
};

// Addresses vmgw owns on a device: any address on `device` inside [first, last] that the plan
// does not list is removed (that is how an unbound elastic IP leaves the uplink).
struct ManagedRange {
  std::string device;
  Ipv4 first;
  Ipv4 last;
};

struct PlannedRoute {
  Cidr destination;
  Ipv4 gateway;
  std::string device;
  uint32_t metric = 0;
};

struct DhcpReservation {
  Mac mac;
  Ipv4 ip;
  std::string name;
};

struct DhcpServer {
  std::string network;
  std::string interface;
  Cidr subnet;
  Ipv4 gateway;
  std::vector<Ipv4> dns_servers;
  std::vector<DhcpReservation> reservations;

  // dnsmasq --dhcp-hostsfile content: "mac,ip,name" per line, sorted by IP.
  std::string hosts_file() const;
};

struct Plan {
  nft::Table table;         // inet vmgw: NAT, the gateway's policy, per-VM IP filters
  nft::Table bridge_table;  // bridge vmgw: per-VM layer-2 filters, by bridge port
  std::vector<std::string> uplink_devices;  // must exist before anything is applied
  std::vector<PlannedSysctl> sysctls;
  std::vector<PlannedBridge> bridges;
  std::vector<PlannedPort> ports;
  std::vector<PlannedAddress> addresses;
  std::vector<ManagedRange> managed_ranges;
  std::vector<PlannedRoute> routes;
  std::vector<DhcpServer> dhcp;
};

}  // namespace vmgw
