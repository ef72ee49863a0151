// The kernel's links, IPv4 addresses and routes, behind an interface so the reconcile logic can
// be tested against a fake. The real implementation (MnlRtnl) speaks rtnetlink through libmnl in
// the calling process's network namespace.
#pragma once

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "model/net.h"

namespace vmgw::backend {

// A kernel refusal or a socket failure; the message names the object and the kernel's reason.
struct RtnlError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct LinkInfo {
  std::string name;
  int index = 0;
  std::string kind;  // IFLA_INFO_KIND: "bridge", "veth", ... ("" for physical devices)
  int master = 0;    // ifindex of the bridge this link is a port of, 0 if none
  bool up = false;   // IFF_UP (administratively up)
  auto operator<=>(const LinkInfo&) const = default;
};

struct AddressInfo {
  std::string device;
  InterfaceAddress address;
  auto operator<=>(const AddressInfo&) const = default;
};

struct RouteInfo {
  Cidr destination;  // 0.0.0.0/0 for a default route
  Ipv4 gateway;      // 0.0.0.0 for a direct route
  std::string device;
  uint32_t metric = 0;
  uint32_t table = 254;  // RT_TABLE_MAIN
  auto operator<=>(const RouteInfo&) const = default;
};

class Rtnl {
 public:
  virtual ~Rtnl() = default;

  // Every link in the namespace.
  virtual std::vector<LinkInfo> links() = 0;
  // Every IPv4 address in the namespace.
  virtual std::vector<AddressInfo> addresses() = 0;
  // IPv4 unicast routes of one table.
  virtual std::vector<RouteInfo> routes(uint32_t table) = 0;

  // Creates a bridge device (down). Throws RtnlError if it exists or the kernel refuses.
  virtual void create_bridge(const std::string& name) = 0;
  // Sets IFF_UP on a link.
  virtual void set_up(const std::string& name) = 0;
  // Makes `port` a port of `bridge`.
  virtual void set_master(const std::string& port, const std::string& bridge) = 0;
  // Adds an IPv4 address; /32 addresses are added with IFA_F_NOPREFIXROUTE.
  virtual void add_address(const AddressInfo& a) = 0;
  virtual void delete_address(const AddressInfo& a) = 0;
  // Creates or replaces the route with the same (table, destination, metric).
  virtual void replace_route(const RouteInfo& r) = 0;
  virtual void delete_route(const RouteInfo& r) = 0;
};

// rtnetlink in the current network namespace.
std::unique_ptr<Rtnl> make_mnl_rtnl();

}  // namespace vmgw::backend
