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

// One ICMP type, and optionally one code of it, that the host lets in (host.icmp) or may send
// (host.output.icmp). Values are the protocol's numbers; `text` is as written, for messages.
struct IcmpMatch {
  Origin origin;
  std::optional<uint8_t> type;
  std::optional<uint8_t> code;
  std::string text;  // "echo-request", "destination-unreachable/frag-needed"
  bool operator==(const IcmpMatch& o) const { return type == o.type && code == o.code; }
};

// Something an uplink's health probe asks: an ICMP echo to `address`, or, with a port, a TCP
// connection to address:port (a SYN-ACK or a reset both prove the path works).
struct ProbeTarget {
  Ipv4 address;
  uint16_t tcp_port = 0;  // 0: ICMP echo
  auto operator<=>(const ProbeTarget&) const = default;
};

inline constexpr uint32_t kMinProbeIntervalMs = 10;
inline constexpr uint32_t kMaxProbeIntervalMs = 10'000;
inline constexpr uint32_t kMaxProbeCount = 1000;  // down_after / up_after

// How vmgwd decides whether an uplink carries traffic. A probe round (one probe to each target)
// is sent every `interval_ms`; the uplink is taken out after `down_after` rounds in a row with
// no answer, or at once when its link loses carrier, and put back after `up_after` answered
// rounds in a row. The defaults (as BFD does: fast and many) take a dead uplink out 600 ms after
// its last answer, while a 10% random loss takes 12 losses in a row, 1e-12 per round: once in
// about 1 500 years at 20 rounds a second. Probes cost 20 small packets a second per target.
struct UplinkProbe {
  bool enabled = true;               // `probe: false`: the uplink follows its link state only
  std::vector<ProbeTarget> targets;  // empty: the uplink's gateway (ICMP), if it has one
  uint32_t interval_ms = 50;
  uint32_t down_after = 12;
  uint32_t up_after = 20;
};

inline constexpr uint32_t kMaxUplinkWeight = 255;
// A network's DHCP lease time, in seconds: dnsmasq refuses less than 2 minutes; a year at most.
inline constexpr uint32_t kMinLeaseTime = 120;
inline constexpr uint32_t kMaxLeaseTime = 365 * 24 * 3600;
inline constexpr uint32_t kDefaultLeaseTime = 3600;
inline constexpr uint32_t kMaxUplinkTier = 255;

struct Uplink {
  Origin origin;
  std::string name;
  std::string device;
  std::optional<InterfaceAddress> address;  // required; optional only while parsing
  std::optional<Ipv4> gateway;
  uint32_t weight = 1;  // share of new flows among the live uplinks of its tier (1-255)
  uint32_t tier = 1;    // preference: the best (lowest) tier with a live uplink carries traffic
  UplinkProbe probe;
};

// What the uplink's probes ask: its targets, or its gateway (ICMP) when none is given; nothing
// when probing is off.
std::vector<ProbeTarget> probe_targets(const Uplink& u);

// How a network spreads its new flows over its uplinks.
enum class UplinkMode {
  balance,   // over every live uplink of the best live tier, by weight
  failover,  // one at a time: the first live uplink (best tier, then the network's order)
};
// What happens to flows on a backup uplink when a better one comes back.
enum class Failback {
  defer,      // they stay until they end; new flows take the better uplink
  immediate,  // they are cut (their conntrack entries deleted) and re-establish on it
};
std::string_view to_string(UplinkMode m);
std::string_view to_string(Failback f);

// What keeps a balanced network's new flows on one uplink (the kernel's multipath hash, for the
// whole host): each connection on its own (the default, the spread is the finest), every
// connection to one destination on the same uplink (as `ip route ... equalize` did: a remote
// service that ties a session to the client's address, FTP's data connections, see one
// address), or every connection of one source (one VM or LAN host, one public address).
enum class BalanceBy { connection, destination, source };
std::string_view to_string(BalanceBy b);

struct Network {
  Origin origin;
  std::string name;
  std::string bridge;  // device the network lives on; created as a bridge if missing
  std::optional<Cidr> subnet;
  std::optional<Ipv4> gateway;  // the host's address on the bridge
  bool dhcp = false;
  // How long a DHCP lease lasts, in seconds (dhcp only); 3600 when not given.
  std::optional<uint32_t> lease_time;
  // Where vmgwd takes a VM's address from when the API call gives none (first..last, inside
  // the subnet); the whole subnet when not given. Explicit addresses may be anywhere in it.
  std::optional<std::pair<Ipv4, Ipv4>> range;
  std::vector<std::string> masquerade;  // uplink names
  std::vector<Ipv4> dns_servers;        // handed out by DHCP
  // ICMP its hosts may send out of the network / receive from outside it, beyond errors of
  // their flows; nullopt: any (as without the lists).
  std::optional<std::vector<IcmpMatch>> icmp_out, icmp_in;
  // Connection-tracking helpers (model/conntrack_helpers.h) for connections its hosts open and
  // connections to them (port forwards, elastic IPs) on each helper's standard port.
  std::vector<std::string> helpers;
  // The uplinks the network's traffic may leave through, in order of preference within a
  // tier. Empty: its masquerade uplinks, or every uplink when it masquerades behind none.
  std::vector<std::string> uplinks;
  UplinkMode mode = UplinkMode::balance;
  Failback failback = Failback::defer;
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
  std::string owner;  // vmgwd: "libvirt:<domain uuid>" for a VM a followed domain made
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

// A rate of new connections: `count` per `unit` (second, minute, hour), as many at once after
// a quiet spell.
struct ConnectionRate {
  uint32_t count = 0;
  std::string unit;  // "second", "minute", "hour"
  std::string str() const { return std::to_string(count) + "/" + unit; }
  bool operator==(const ConnectionRate&) const = default;
};

// One allowed service on the host itself (host.allow), or one kind of connection the host may
// open (host.output.allow). Every list holds alternatives; an empty one matches anything.
struct HostService {
  Origin origin;
  std::vector<std::string> interfaces;  // in: the one it arrives on; out: the one it leaves by
  std::vector<Cidr> from;               // sources
  std::vector<Cidr> to;                 // destinations
  Proto proto = Proto::tcp;
  std::vector<PortRange> ports;         // required: numbers, ranges, service names (as written)
  std::vector<std::string> port_text;   // as written, for the rule's name ("ssh", "8000-8100")
  std::optional<ConnectionRate> limit;  // new connections of the entry, all sources together
  std::optional<ConnectionRate> per_source;  // new connections of one source address
  bool has_port(uint16_t port) const;
};

// What the host itself may send (host.output). By default everything (policy accept), as
// before this section existed; with policy drop only replies of accepted traffic, what vmgw
// needs, and what is listed here.
struct HostOutput {
  Origin origin;
  bool drop = false;               // policy: accept | drop
  std::vector<HostService> allow;  // with drop: connections the host may open
  std::vector<IcmpMatch> icmp;     // with drop: ICMP the host may send (default echo-request)
  bool icmp_given = false;         // `icmp` written (an empty list closes ICMP out)
};

// DSCP marking of traffic leaving through the uplinks: the packets that the selected sources
// (one VM, one network, or a prefix) send with `port` as their source or destination port get
// DSCP `dscp`. Rules are tried in file order; the first that matches decides.
struct DscpRule {
  Origin origin;
  std::string vm;
  std::string network;
  std::optional<Cidr> from;
  Proto proto = Proto::tcp;
  std::optional<PortRange> ports;  // none: every port of `proto`
  std::optional<uint8_t> dscp;     // 0-63; required
  std::string dscp_text;           // as written ("ef", "af41", "46"), for messages
};

inline constexpr uint32_t kMaxFlowsPerVm = 10'000'000;
inline constexpr uint32_t kMaxConntrackMax = 64'000'000;
inline constexpr uint32_t kMaxDropLogRate = 1'000'000;

// How many packets vmgw's log statements may hand vmgwd (host.drop_log). Every logged packet
// costs the daemon a wake-up and a decode: without a bound, a flood at a closed port costs it a
// CPU. The kernel enforces these before the log statement; what is over them is still dropped
// (or accepted) as the rule says, only not logged, and counted.
struct DropLogLimit {
  uint32_t rate = 100;   // packets/s logged, per table (inet, bridge), all sources together
  uint32_t burst = 100;  // packets above the rate that may pass at once after a quiet spell
  // Packets/s one source (IPv4 address, or MAC at layer 2) may have logged, so that one noisy
  // source cannot use up `rate` and hide the others. 0: no per-source bound.
  uint32_t per_source = 20;
  bool operator==(const DropLogLimit&) const = default;
};

struct HostPolicy {
  Origin origin;
  std::vector<HostService> allow;
  bool allow_ping = true;  // ICMP echo to the host; operators expect ping to answer
  bool allow_ping_given = false;
  // ICMP types the host lets in beyond errors of its accepted flows; nullopt: as allow_ping says.
  std::optional<std::vector<IcmpMatch>> icmp;
  HostOutput output;
  // Connection-tracking helpers for the host's own connections, served and opened.
  std::vector<std::string> helpers;
  // Tracked connections one VM (one source address of a VM network or LAN) may hold at once:
  // one VM must not be able to fill the host's conntrack table. 0: no limit.
  uint32_t flows_per_vm = 20000;
  // The least nf_conntrack_max the host should have (host-wide): raised to it, never lowered.
  // 0: leave it to the host.
  uint32_t conntrack_max = 262144;
  DropLogLimit drop_log;
};

inline constexpr uint32_t kMaxConnectionsPerUser = 224;  // 256 less the 32 kept for root

// vmgwd's API socket (the config file's `api` section; `vmgw apply` ignores it). Groups are
// names or numeric gids; a group that does not exist gives no access.
struct ApiSettings {
  std::string group = "vmgw";               // full control
  std::string read_only_group = "vmgw-ro";  // GET endpoints (and trace) only
  uint32_t connections_per_user = 64;       // the most one uid other than root may hold open
  bool operator==(const ApiSettings&) const = default;
};

// vmgwd's status page on a TCP address (the config file's `status` section; `vmgw apply` ignores
// it; docs/status-page.md). Off unless configured: the page is always on the API socket, and TCP
// is only for an operator who asks for it. Read only: the page and its JSON, never the API.
struct StatusPageListen {
  Origin origin;
  Ipv4 address{0x7f000001};  // 127.0.0.1: loopback unless the operator names an address
  uint16_t port = 0;
  bool operator==(const StatusPageListen& o) const {
    return address == o.address && port == o.port;
  }
};

// vmgwd follows a libvirt daemon (the config file's `libvirt` section; `vmgw apply` ignores it):
// each interface of a domain on the bridge of a followed network becomes a VM (docs/libvirt.md).
struct LibvirtFollow {
  Origin origin;
  std::string uri;                    // libvirt's connection URI ("qemu:///system")
  std::vector<std::string> networks;  // vmgw networks whose bridge is followed; empty: all
  bool operator==(const LibvirtFollow& o) const { return uri == o.uri && networks == o.networks; }
};

// How many DHCP lease events vmgwd keeps: guests drive this log (a DHCP client in a loop adds
// ten a second), so it is pruned to the newest `keep` and to those younger than `max_age_days`.
struct LeaseEventRetention {
  uint32_t keep = 10000;
  uint32_t max_age_days = 30;
};
inline constexpr uint32_t kMaxLeaseEventsKept = 1'000'000;
inline constexpr uint32_t kMaxLeaseEventDays = 3650;

struct Config {
  std::string source;  // file name, for messages
  std::vector<Uplink> uplinks;
  std::vector<Network> networks;
  std::vector<Vm> vms;
  std::vector<PortForward> port_forwards;
  std::vector<ElasticIpPool> eip_pools;
  std::vector<ElasticIpBinding> eip_bindings;
  HostPolicy host;
  LeaseEventRetention lease_events;
  std::vector<DscpRule> dscp;
  BalanceBy balance_by = BalanceBy::connection;
  ApiSettings api;
  std::optional<LibvirtFollow> libvirt;
  std::optional<StatusPageListen> status_listen;  // the `status` section's listen address
  // nwfilter XML files defining filters (for `vmgw apply`/`plan`; the daemon keeps defined
  // filters in its store). Paths as written, relative to the config file's directory.
  std::vector<std::string> filter_files;
};

}  // namespace vmgw
