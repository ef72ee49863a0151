// The operator's declared configuration, as parsed. Nothing here is validated yet: see
// validate.h, which is the only way to obtain a Validated<Config>.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "model/diagnostic.h"
#include "model/net.h"

namespace vmgw {

// Where each field of an object came from, keyed by field name ("" = the object itself).
struct Origin {
  std::string path;  // "vms[2]"
  std::map<std::string, Location> fields;

  // Location of `field`, falling back to the object's own location.
  Location at(const std::string& field) const;
};

struct Uplink {
  Origin origin;
  std::string name;
  std::string device;
  std::optional<InterfaceAddress> address;  // required; optional only while parsing
  std::optional<Ipv4> gateway;
};

struct Network {
  Origin origin;
  std::string name;
  std::string bridge;  // device the network lives on; created as a bridge if missing
  std::optional<Cidr> subnet;
  std::optional<Ipv4> gateway;  // the host's address on the bridge
  bool dhcp = false;
  std::vector<std::string> masquerade;  // uplink names
  std::vector<Ipv4> dns_servers;        // handed out by DHCP
};

// A VM's reference to a per-VM filter (libvirt nwfilter), with parameters for its variables.
// Parameters are ordered pairs: a name given more than once makes a list ($IP with two values).
struct VmFilter {
  Origin origin;
  std::string filter;
  std::vector<std::pair<std::string, std::string>> params;
};

// All of the VM's traffic is cut except to and from these management sources.
struct Quarantine {
  std::vector<Cidr> allow_from;
};

struct Vm {
  Origin origin;
  std::string name;
  std::string network;
  std::optional<Mac> mac;
  std::optional<Ipv4> ip;
  std::string port;               // bridge port device (tap/veth); optional, required with filters
  std::vector<VmFilter> filters;  // evaluated in this order; none: no per-VM filtering
  std::optional<Quarantine> quarantine;
};

struct PortForward {
  Origin origin;
  std::optional<Ipv4> public_address;
  std::optional<PortRange> public_ports;
  Proto proto = Proto::tcp;
  std::string vm;
  std::optional<PortRange> vm_ports;  // same size as public_ports
};

// A pool of public addresses routed to (or on the subnet of) one uplink.
struct ElasticIpPool {
  Origin origin;
  std::string name;
  std::string uplink;
  std::optional<Ipv4> first;
  std::optional<Ipv4> last;
};

struct ElasticIpBinding {
  Origin origin;
  std::optional<Ipv4> address;
  std::string vm;
  std::string pool;  // optional; when empty the pool is the one containing the address
};

// One allowed service on the host itself.
struct HostService {
  Origin origin;
  std::string interface;     // empty = any interface
  std::optional<Cidr> from;  // empty = any source
  Proto proto = Proto::tcp;
  std::optional<PortRange> ports;
};

inline constexpr uint32_t kMaxFlowsPerVm = 10'000'000;
inline constexpr uint32_t kMaxConntrackMax = 64'000'000;

struct HostPolicy {
  std::vector<HostService> allow;
  bool allow_ping = true;  // ICMP echo to the host; operators expect ping to answer
  // Tracked connections one VM (one source address of a VM network or LAN) may hold at once:
  // one VM must not be able to fill the host's conntrack table. 0: no limit.
  uint32_t flows_per_vm = 20000;
  // The least nf_conntrack_max the host should have (host-wide): raised to it, never lowered.
  // 0: leave it to the host.
  uint32_t conntrack_max = 262144;
};

struct Config {
  std::string source;  // file name, for messages
  std::vector<Uplink> uplinks;
  std::vector<Network> networks;
  std::vector<Vm> vms;
  std::vector<PortForward> port_forwards;
  std::vector<ElasticIpPool> eip_pools;
  std::vector<ElasticIpBinding> eip_bindings;
  HostPolicy host;
  // nwfilter XML files defining filters (for `vmgw apply`/`plan`; the daemon keeps defined
  // filters in its store). Paths as written, relative to the config file's directory.
  std::vector<std::string> filter_files;
};

}  // namespace vmgw
