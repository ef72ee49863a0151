// The kernel's links, IPv4 addresses and routes, behind an interface so the reconcile logic can
// be tested against a fake. The real implementation (MnlRtnl) speaks rtnetlink through libmnl in
// the calling process's network namespace.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/net.h"

namespace vmgw::backend {

// A kernel refusal or a socket failure; the message names the object and the kernel's reason.
struct RtnlError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The rtm_protocol / nhm_protocol / FRA_PROTOCOL vmgw writes its routes, nexthops and rules
// with, so that it can tell its own from other programs' (an unassigned value; `ip` shows
// "proto 76").
inline constexpr uint8_t kVmgwProtocol = 76;
inline constexpr uint32_t kMainTable = 254;
// The alias (IFLA_IFALIAS, `ip link` shows "alias vmgw") of the bridges vmgw creates: how
// `vmgw down` and apply tell them from bridges the host had before, which they never delete.
inline constexpr const char* kVmgwBridgeAlias = "vmgw";

struct LinkInfo {
  std::string name;
  int index = 0;
  std::string kind;      // IFLA_INFO_KIND: "bridge", "veth", ... ("" for physical devices)
  int master = 0;        // ifindex of the bridge this link is a port of, 0 if none
  bool up = false;       // IFF_UP (administratively up)
  bool carrier = false;  // IFF_LOWER_UP: the link is up at layer 1 (a veth's peer is up)
  std::string alias;     // IFLA_IFALIAS; kVmgwBridgeAlias on the bridges vmgw created
  auto operator<=>(const LinkInfo&) const = default;
};

struct AddressInfo {
  std::string device;
  InterfaceAddress address;
  // IFA_PROTO: who added it; vmgw adds its addresses with kVmgwProtocol (`ip address` shows
  // "proto 76") so that it removes only its own. Not part of the address's identity: the same
  // address added by someone else is the same address.
  uint8_t protocol = 0;
  bool operator==(const AddressInfo& o) const { return device == o.device && address == o.address; }
  auto operator<=>(const AddressInfo& o) const {
    if (auto c = device <=> o.device; c != 0) return c;
    return address <=> o.address;
  }
};

struct RouteInfo {
  Cidr destination;    // 0.0.0.0/0 for a default route
  Ipv4 gateway;        // 0.0.0.0 for a direct route
  std::string device;  // "" for a route through a nexthop object or an unreachable route
  uint32_t metric = 0;
  uint32_t table = kMainTable;
  uint32_t nexthop = 0;  // RTA_NH_ID: the route goes through nexthop object (or group) `nexthop`
  bool unreachable = false;  // RTN_UNREACHABLE: a lookup that ends here fails (ICMP unreachable)
  uint8_t protocol = 0;      // rtm_protocol; what vmgw writes is kVmgwProtocol
  auto operator<=>(const RouteInfo&) const = default;
};

// A policy routing rule (`ip rule`), IPv4. Selectors left at their zero value match anything.
struct RuleInfo {
  uint32_t priority = 0;
  std::optional<Cidr> from;  // source prefix
  uint32_t fwmark = 0;       // packet mark & fwmask == fwmark
  uint32_t fwmask = 0;
  uint32_t table = kMainTable;
  // suppress_prefixlength: a result from `table` with a prefix this long or shorter is ignored
  // and the lookup goes on (0: every route of the table but its default routes counts).
  std::optional<uint32_t> suppress_prefixlength;
  uint8_t protocol = 0;
  auto operator<=>(const RuleInfo&) const = default;
};

struct NexthopMember {
  uint32_t id = 0;
  uint32_t weight = 1;  // 1-256
  auto operator<=>(const NexthopMember&) const = default;
};

// A nexthop object (`ip nexthop`): a gateway on a device, or a group of nexthops with weights.
struct NexthopInfo {
  uint32_t id = 0;
  std::string device;                // single nexthops
  Ipv4 gateway;                      // 0.0.0.0: a direct nexthop on the device
  std::vector<NexthopMember> group;  // non-empty: a multipath group
  uint8_t protocol = 0;
  auto operator<=>(const NexthopInfo&) const = default;
};

class Rtnl {
 public:
  virtual ~Rtnl() = default;

  // Every link in the namespace.
  virtual std::vector<LinkInfo> links() = 0;
  // One link by name, nullopt if there is none. The real one asks the kernel for that link
  // alone: a change naming one VM's port must not dump 10 000 others. The default scans links().
  virtual std::optional<LinkInfo> link(const std::string& name) {
    for (auto& l : links())
      if (l.name == name) return std::move(l);
    return std::nullopt;
  }
  // Every IPv4 address in the namespace.
  virtual std::vector<AddressInfo> addresses() = 0;
  // IPv4 unicast and unreachable routes of one table; of every table for table 0.
  virtual std::vector<RouteInfo> routes(uint32_t table) = 0;
  // Every IPv4 policy routing rule.
  virtual std::vector<RuleInfo> rules() = 0;
  // Every nexthop object (IPv4 nexthops and groups).
  virtual std::vector<NexthopInfo> nexthops() = 0;

  // Creates a bridge device (down) with the alias kVmgwBridgeAlias. Throws RtnlError if it
  // exists or the kernel refuses.
  virtual void create_bridge(const std::string& name) = 0;
  // Deletes a link (a bridge vmgw created: its ports are released by the kernel).
  virtual void delete_link(const std::string& name) = 0;
  // Sets IFF_UP on a link.
  virtual void set_up(const std::string& name) = 0;
  // Makes `port` a port of `bridge`.
  virtual void set_master(const std::string& port, const std::string& bridge) = 0;
  // Takes `port` out of its bridge (a change that plugged it in was refused).
  virtual void release_port(const std::string& port) = 0;
  // Adds an IPv4 address with IFA_PROTO kVmgwProtocol; /32 addresses are added with
  // IFA_F_NOPREFIXROUTE.
  virtual void add_address(const AddressInfo& a) = 0;
  virtual void delete_address(const AddressInfo& a) = 0;
  // Creates or replaces the route with the same (table, destination, metric).
  virtual void replace_route(const RouteInfo& r) = 0;
  virtual void delete_route(const RouteInfo& r) = 0;
  // Adds a rule; the kernel refuses an identical one (EEXIST).
  virtual void add_rule(const RuleInfo& r) = 0;
  virtual void delete_rule(const RuleInfo& r) = 0;
  // Creates nexthop `n.id` or replaces it in one step (a group's members change atomically:
  // routes through it never see an empty group).
  virtual void replace_nexthop(const NexthopInfo& n) = 0;
  // Deletes a nexthop; the kernel drops it from groups and deletes routes left without one.
  virtual void delete_nexthop(uint32_t id) = 0;
};

// rtnetlink in the current network namespace.
std::unique_ptr<Rtnl> make_mnl_rtnl();

}  // namespace vmgw::backend
