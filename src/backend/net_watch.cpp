// NetWatch over rtnetlink (libmnl): one non-blocking socket subscribed to the groups of what vmgw
// programs. See net_watch.h.
#include "backend/net_watch.h"

#include "backend/netlink_drain.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/netconf.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/socket.h>

#include <array>
#include <cstring>
#include <stdexcept>

namespace vmgw::backend {
namespace {

// One datagram of notifications (the kernel's notification skbs are far smaller).
constexpr size_t kDatagram = kNetlinkDatagram;
// Datagrams per read_ready(): bounds one call under a flood (a bridge with many ports deleted).
// Room for a burst of notifications while the loop is busy with a large change.
constexpr int kSocketBuffer = 1024 * 1024;

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error("net watch: " + what + ": " + std::strerror(err));
}

// The parsers of rtnl_messages read RTM_NEW* messages; a RTM_DEL* one has the same layout, so it
// is read as its RTM_NEW* twin (the type is the only difference the parsers look at).
uint16_t new_twin(uint16_t type) {
  switch (type) {
    case RTM_DELLINK:
      return RTM_NEWLINK;
    case RTM_DELADDR:
      return RTM_NEWADDR;
    case RTM_DELROUTE:
      return RTM_NEWROUTE;
    case RTM_DELRULE:
      return RTM_NEWRULE;
    case RTM_DELNEXTHOP:
      return RTM_NEWNEXTHOP;
    default:
      return type;
  }
}

// `nlh` is aligned and writable (a copy).
std::optional<NetEvent> decode_aligned(nlmsghdr* nlh, const rtnl_msg::IfNames& names) {
  NetEvent e;
  e.sender = nlh->nlmsg_pid;
  const uint16_t type = nlh->nlmsg_type;
  e.removed = new_twin(type) != type;
  nlh->nlmsg_type = new_twin(type);
  switch (nlh->nlmsg_type) {
    case RTM_NEWLINK: {
      // The bridge also notifies its ports' bridge attributes (family AF_BRIDGE), a port leaving
      // as an RTM_DELLINK: the device itself is told of in the plain (AF_UNSPEC) messages.
      if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg)) ||
          static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh))->ifi_family == AF_BRIDGE)
        return std::nullopt;
      auto l = rtnl_msg::parse_link(nlh);
      if (!l) return std::nullopt;
      e.kind = NetEvent::Kind::link;
      e.link = std::move(*l);
      if (auto it = names.find(e.link.master); it != names.end()) e.master = it->second;
      return e;
    }
    case RTM_NEWADDR: {
      auto a = rtnl_msg::parse_address(nlh, names);
      if (!a) return std::nullopt;
      e.kind = NetEvent::Kind::address;
      e.address = std::move(*a);
      return e;
    }
    case RTM_NEWROUTE: {
      auto r = rtnl_msg::parse_route(nlh, names);
      if (!r || r->family != AF_INET || (r->type != RTN_UNICAST && r->type != RTN_UNREACHABLE))
        return std::nullopt;
      e.kind = NetEvent::Kind::route;
      e.route = std::move(r->route);
      return e;
    }
    case RTM_NEWRULE: {
      auto r = rtnl_msg::parse_rule(nlh);
      if (!r) return std::nullopt;
      e.kind = NetEvent::Kind::rule;
      e.rule = std::move(*r);
      return e;
    }
    case RTM_NEWNEXTHOP: {
      auto n = rtnl_msg::parse_nexthop(nlh, names);
      if (!n) return std::nullopt;
      e.kind = NetEvent::Kind::nexthop;
      e.nexthop = std::move(*n);
      return e;
    }
    case RTM_NEWNETCONF: {
      if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(netconfmsg))) return std::nullopt;
      const auto* ncm = static_cast<const netconfmsg*>(mnl_nlmsg_get_payload(nlh));
      if (ncm->ncm_family != AF_INET) return std::nullopt;
      e.kind = NetEvent::Kind::netconf;
      return e;
    }
    default:
      return std::nullopt;
  }
}

class NetlinkNetWatch : public NetWatch {
 public:
  NetlinkNetWatch()
      : nl_(mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC), mnl_socket_close) {
    if (!nl_) fail("open rtnetlink socket", errno);
    if (mnl_socket_bind(nl_.get(), 0, MNL_SOCKET_AUTOPID) < 0) fail("bind rtnetlink socket", errno);
    // NETLINK_ADD_MEMBERSHIP rather than bind()'s bit mask: RTNLGRP_NEXTHOP is above 31.
    for (unsigned group : {RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE, RTNLGRP_IPV4_RULE,
                           RTNLGRP_NEXTHOP, RTNLGRP_IPV4_NETCONF}) {
      if (mnl_socket_setsockopt(nl_.get(), NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0)
        fail("subscribe to group " + std::to_string(group), errno);
    }
    int size = kSocketBuffer;
    int fd = mnl_socket_get_fd(nl_.get());
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    // Subscribed first, names second: a device created in between is also notified.
    if (auto* all = if_nameindex()) {
      for (auto* i = all; i->if_index != 0; ++i) names_[static_cast<int>(i->if_index)] = i->if_name;
      if_freenameindex(all);
    }
  }

  int fd() const override { return mnl_socket_get_fd(nl_.get()); }

  std::vector<NetEvent> read_ready() override {
    std::vector<NetEvent> out;
    // Notifications lost: whoever reads must look again (an empty event says so).
    const bool lost = drain_notifications(fd(), buf_, "net watch", [&](nlmsghdr* nlh) {
      learn_name(nlh);
      if (auto e = decode_aligned(nlh, names_)) out.push_back(std::move(*e));
    });
    if (lost) out.push_back(NetEvent{});
    return out;
  }

 private:
  // Keeps ifindex -> name current from link notifications (a removed device keeps its name: the
  // notifications of its addresses going follow), and asks the kernel for an index never seen.
  void learn_name(const nlmsghdr* nlh) {
    if (nlh->nlmsg_type == RTM_NEWLINK) {
      if (auto l = rtnl_msg::parse_link(nlh)) names_[l->index] = l->name;
      return;
    }
    if (nlh->nlmsg_type != RTM_NEWADDR && nlh->nlmsg_type != RTM_DELADDR) return;
    if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg))) return;
    int index =
        static_cast<int>(static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh))->ifa_index);
    if (index > 0 && !names_.count(index)) {
      char name[IF_NAMESIZE] = {};
      if (if_indextoname(static_cast<unsigned>(index), name)) names_[index] = name;
    }
  }

  std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl_;
  rtnl_msg::IfNames names_;
  alignas(nlmsghdr) NetlinkBuffer buf_{};
};

}  // namespace

std::optional<NetEvent> decode_net_event(std::span<const uint8_t> nlmsg,
                                         const rtnl_msg::IfNames& names) {
  if (nlmsg.size() < sizeof(nlmsghdr) || nlmsg.size() > kDatagram) return std::nullopt;
  // libmnl reads the header and attributes in place, so they must be aligned.
  std::vector<uint32_t> copy(nlmsg.size() / 4 + 1);
  std::memcpy(copy.data(), nlmsg.data(), nlmsg.size());
  auto* nlh = static_cast<nlmsghdr*>(static_cast<void*>(copy.data()));
  if (nlh->nlmsg_len > nlmsg.size()) return std::nullopt;
  return decode_aligned(nlh, names);
}

std::string NetEvent::str() const {
  const std::string how = removed ? " removed" : " added or changed";
  switch (kind) {
    case Kind::link:
      if (removed) return "link " + link.name + " removed";
      return "link " + link.name + (link.up ? " up" : " down") +
             (master.empty() ? ", in no bridge" : ", port of " + master);
    case Kind::address:
      return "address " + address.address.str() + " on " +
             (address.device.empty() ? "a removed device" : address.device) + how;
    case Kind::route:
      return "route " + rtnl_msg::describe(route) + how;
    case Kind::rule:
      return "rule " + rtnl_msg::describe(rule) + how;
    case Kind::nexthop:
      return "nexthop " + rtnl_msg::describe(nexthop) + how;
    case Kind::netconf:
      return "IPv4 forwarding settings changed";
    case Kind::lost:
      return "notifications lost (receive overrun)";
  }
  return "";
}

std::unique_ptr<NetWatch> make_netlink_net_watch() {
  return std::make_unique<NetlinkNetWatch>();
}

}  // namespace vmgw::backend
