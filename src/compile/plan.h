// A Plan is everything vmgw wants the host to hold for one validated config: the nftables
// table, the links/addresses/routes, the sysctls and the DHCP servers. It is a pure value:
// compiling the same config twice gives byte-identical plans.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "model/config.h"
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

// A route vmgw owns: a default route through a nexthop object (or group), or an unreachable
// route that ends a lookup in vmgw's tables when no uplink can take the traffic.
struct PlannedRoute {
  Cidr destination;
  uint32_t table = 254;  // main
  uint32_t metric = 0;
  uint32_t nexthop = 0;      // nexthop object or group id
  bool unreachable = false;  // else through `nexthop`
};

// A nexthop object: the gateway of one uplink, or a group of them with weights (multipath).
struct PlannedNexthop {
  uint32_t id = 0;
  std::string device;           // single
  std::optional<Ipv4> gateway;  // single; none: a direct nexthop on the device
  std::vector<std::pair<uint32_t, uint32_t>> members;  // group: (nexthop id, weight)
  std::string purpose;  // "uplink isp1", "network vmnet: balance", for `vmgw plan`
};

// A policy routing rule vmgw owns.
struct PlannedRule {
  uint32_t priority = 0;
  std::optional<Cidr> from;
  uint32_t fwmark = 0;
  uint32_t fwmask = 0;
  uint32_t table = 254;
  bool skip_default_routes = false;  // suppress_prefixlength 0
  std::string purpose;
};

// An uplink as the kernel sees it: the numbers vmgw derived from its name (stable when other
// uplinks are added or removed) and the health it was compiled with.
struct PlannedUplink {
  std::string name;
  std::string device;
  InterfaceAddress address;
  std::optional<Ipv4> gateway;
  uint32_t mark = 0;     // its flows' conntrack mark, under routing::kMarkMask
  uint32_t table = 0;    // its routing table
  uint32_t nexthop = 0;  // its nexthop object
  uint32_t weight = 1;
  uint32_t tier = 1;
  bool carrier = true;
  bool alive = true;
};

// Which uplinks one group of sources uses: a network's subnet, or the host's own traffic.
struct PlannedPath {
  std::string network;  // "" for the host itself
  std::optional<Cidr> subnet;
  UplinkMode mode = UplinkMode::balance;
  Failback failback = Failback::defer;
  std::vector<std::string> candidates;  // the uplinks it may use, in order
  std::vector<std::string> active;      // those carrying its new flows now
  uint32_t table = 254;
  uint32_t group = 0;  // nexthop group of `active` (0 when none is usable)
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
  uint32_t lease_time = kDefaultLeaseTime;  // seconds

  // dnsmasq --dhcp-hostsfile content: "mac,ip,name" per line, sorted by IP; "mac,ip" for a VM
  // whose name dnsmasq would read as a keyword (dnsmasq_reads_as_keyword).
  std::string hosts_file() const;
};

// Whether dnsmasq reads `name`, as a field of a dhcp-host line, as something other than a host
// name: `ignore`, `infinite`, or a lease time (`3600`, `7d`, `45m`...).
bool dnsmasq_reads_as_keyword(std::string_view name);

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
  std::vector<PlannedNexthop> nexthops;  // single ones first, then groups
  std::vector<PlannedRule> rules;
  std::vector<PlannedUplink> uplinks;  // sorted by name
  std::vector<PlannedPath> paths;      // the host first, then networks by name
  std::vector<DhcpServer> dhcp;
};

}  // namespace vmgw
