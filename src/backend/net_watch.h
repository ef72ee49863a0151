// The kernel's notifications about what vmgw programs over rtnetlink (links, IPv4 addresses,
// routes, rules, nexthops, and IPv4 netconf, which carries ip_forward), for self-healing: another
// program deleting an elastic IP's address or a rule is seen the moment it happens, without
// polling. The watch only reports; whether a change contradicts vmgw's plan is decided above it
// (daemon/host_heal.h), so vmgw's own writes need no bookkeeping here.
//
// Decoding is pure (decode_net_event) so unit tests feed it hand-built messages; only
// make_netlink_net_watch() touches the kernel.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "backend/rtnl.h"
#include "backend/rtnl_messages.h"

namespace vmgw::backend {

// One notification: which object, and whether it appeared/changed or went away.
struct NetEvent {
  enum class Kind { link, address, route, rule, nexthop, netconf, lost };
  Kind kind = Kind::lost;
  bool removed = false;  // RTM_DEL*
  // The netlink port of the program whose request made the change (`ip` reports its pid), 0
  // when the kernel made it on its own (a nexthop flushed with its device's carrier).
  uint32_t sender = 0;
  LinkInfo link;            // link
  std::string master;       // link: the name of link.master ("" for none or unknown)
  AddressInfo address;      // address
  RouteInfo route;          // route (IPv4 unicast and unreachable only)
  RuleInfo rule;            // rule (IPv4)
  NexthopInfo nexthop;      // nexthop (IPv4 and groups)
  std::string str() const;  // "address 203.0.113.17/32 on wan0 removed"
};

// Decodes one netlink message (the bytes of one nlmsghdr, any alignment); `names` resolves
// ifindexes for addresses, routes and nexthops. nullopt for what vmgw does not program (IPv6,
// local and broadcast routes) and for malformed messages. A netconf event carries no details:
// it only says a sysctl of forwarding may have changed.
std::optional<NetEvent> decode_net_event(std::span<const uint8_t> nlmsg,
                                         const rtnl_msg::IfNames& names);

class NetWatch {
 public:
  virtual ~NetWatch() = default;
  virtual int fd() const = 0;  // for poll()
  // Non-blocking: the events received since the last call, in order. Notifications lost to a
  // receive overrun are reported as one event of kind `lost` (state must be read again).
  virtual std::vector<NetEvent> read_ready() = 0;
};

// Subscribes to RTNLGRP_LINK, IPV4_IFADDR, IPV4_ROUTE, IPV4_RULE, NEXTHOP and IPV4_NETCONF in
// the calling process's network namespace. Throws std::runtime_error with the reason.
std::unique_ptr<NetWatch> make_netlink_net_watch();

// Events queued by the test.
class FakeNetWatch : public NetWatch {
 public:
  int fd() const override { return fake_fd; }
  std::vector<NetEvent> read_ready() override { return std::exchange(events, {}); }
  std::vector<NetEvent> events;
  int fake_fd = 1002;
};

}  // namespace vmgw::backend
