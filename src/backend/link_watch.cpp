// LinkWatch over rtnetlink (libmnl): one non-blocking socket subscribed to RTNLGRP_LINK for the
// notifications, and a short-lived one for the dumps. See link_watch.h.
#include "backend/link_watch.h"

#include "backend/netlink_drain.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cstring>
#include <stdexcept>

#include "backend/rtnl_messages.h"

namespace vmgw::backend {
namespace {

// One datagram of a dump or of notifications (the kernel's dump skbs are at most 32 KiB).
constexpr size_t kDatagram = kNetlinkDatagram;
// Notification datagrams per read_ready(): bounds one call under a flood of link changes.
// Room for a burst of notifications (many VM ports created at once) while the loop is busy.
constexpr int kSocketBuffer = 1024 * 1024;

[[noreturn]] void fail(const std::string& what, int err) {
  throw std::runtime_error("link watch: " + what + ": " + std::strerror(err));
}

int name_attr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == IFLA_IFNAME && mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
    *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
  return MNL_CB_OK;
}

std::optional<LinkEvent> decode_aligned(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) return std::nullopt;
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg))) return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  LinkEvent e;
  if (mnl_attr_parse(nlh, sizeof(ifinfomsg), name_attr, &e.name) < 0 || e.name.empty())
    return std::nullopt;
  e.index = ifi->ifi_index;
  e.removed = nlh->nlmsg_type == RTM_DELLINK;
  constexpr unsigned kCarrier = IFF_UP | IFF_LOWER_UP;
  e.carrier = !e.removed && (ifi->ifi_flags & kCarrier) == kCarrier;
  return e;
}

// Every link, through a socket of its own so that the notification socket never sees a dump.
// A dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is taken again.
std::vector<LinkEvent> dump_links() {
  for (int attempt = 0;; ++attempt) {
    std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl(
        mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC), mnl_socket_close);
    if (!nl) fail("open rtnetlink socket", errno);
    if (mnl_socket_bind(nl.get(), 0, MNL_SOCKET_AUTOPID) < 0) fail("bind rtnetlink socket", errno);
    auto seq = static_cast<uint32_t>(time(nullptr));
    auto req = rtnl_msg::dump_links(seq);
    if (mnl_socket_sendto(nl.get(), req.data(), req.size()) < 0) fail("send link dump", errno);
    struct Collected {
      std::vector<LinkEvent> links;
      bool interrupted = false;
    } got;
    auto each = [](const nlmsghdr* nlh, void* data) {
      auto* c = static_cast<Collected*>(data);
      if ((nlh->nlmsg_flags & NLM_F_DUMP_INTR) != 0) c->interrupted = true;
      if (auto e = decode_aligned(nlh)) c->links.push_back(std::move(*e));
      return MNL_CB_OK;
    };
    std::vector<uint8_t> buf(kDatagram);
    uint32_t portid = mnl_socket_get_portid(nl.get());
    int ret = MNL_CB_OK;
    while (ret > MNL_CB_STOP) {
      ssize_t n = mnl_socket_recvfrom(nl.get(), buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        fail("receive link dump", errno);
      }
      ret = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, portid, each, &got);
    }
    if (ret == MNL_CB_ERROR) fail("link dump", errno);
    if (!got.interrupted) return std::move(got.links);
    if (attempt >= 4) fail("link dump", EINTR);
  }
}

class NetlinkLinkWatch : public LinkWatch {
 public:
  NetlinkLinkWatch()
      : nl_(mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC), mnl_socket_close) {
    if (!nl_) fail("open rtnetlink socket", errno);
    if (mnl_socket_bind(nl_.get(), RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
      fail("subscribe to link notifications", errno);
    int size = kSocketBuffer;
    int fd = mnl_socket_get_fd(nl_.get());
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    // Subscribed first, dumped second: a change during the dump is also queued as a
    // notification, applied after the dump, so the table ends up current.
    table_.replace(dump_links());
  }

  int fd() const override { return mnl_socket_get_fd(nl_.get()); }
  std::map<std::string, bool> carrier() const override { return table_.carrier(); }

  std::vector<CarrierChange> read_ready() override {
    std::vector<CarrierChange> out;
    // Notifications lost: the dump below catches up.
    const bool overrun = drain_notifications(fd(), buf_, "link watch", [&](const nlmsghdr* nlh) {
      if (auto e = decode_aligned(nlh))
        for (auto& c : table_.apply(*e)) out.push_back(std::move(c));
    });
    if (overrun)
      for (auto& c : table_.replace(dump_links())) out.push_back(std::move(c));
    return out;
  }

 private:
  std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl_;
  CarrierTable table_;
  alignas(nlmsghdr) NetlinkBuffer buf_{};
};

}  // namespace

std::optional<LinkEvent> decode_link_event(std::span<const uint8_t> nlmsg) {
  if (nlmsg.size() < mnl_nlmsg_size(sizeof(ifinfomsg))) return std::nullopt;
  // libmnl reads the header and attributes in place, so they must be aligned.
  std::vector<uint32_t> copy((nlmsg.size() + 3) / 4);
  std::memcpy(copy.data(), nlmsg.data(), nlmsg.size());
  const auto* nlh = static_cast<const nlmsghdr*>(static_cast<const void*>(copy.data()));
  if (nlh->nlmsg_len > nlmsg.size()) return std::nullopt;
  return decode_aligned(nlh);
}

std::vector<CarrierChange> CarrierTable::apply(const LinkEvent& e) {
  std::vector<CarrierChange> out;
  auto it = devices_.find(e.index);
  if (e.removed) {
    if (it == devices_.end()) return out;
    if (it->second.carrier) out.emplace_back(it->second.name, false);
    devices_.erase(it);
    return out;
  }
  if (it == devices_.end()) {
    devices_[e.index] = {e.name, e.carrier};
    if (e.carrier) out.emplace_back(e.name, true);
    return out;
  }
  Device& d = it->second;
  if (d.name != e.name) {  // renamed: to its users, the old name is gone, a new one appeared
    if (d.carrier) out.emplace_back(d.name, false);
    if (e.carrier) out.emplace_back(e.name, true);
  } else if (d.carrier != e.carrier) {
    out.emplace_back(e.name, e.carrier);
  }
  d = {e.name, e.carrier};
  return out;
}

std::vector<CarrierChange> CarrierTable::replace(const std::vector<LinkEvent>& dump) {
  auto before = carrier();
  devices_.clear();
  for (const auto& e : dump)
    if (!e.removed) devices_[e.index] = {e.name, e.carrier};
  auto after = carrier();
  std::vector<CarrierChange> out;
  for (const auto& [name, c] : before) {
    auto it = after.find(name);
    bool now = it != after.end() && it->second;
    if (c != now) out.emplace_back(name, now);
  }
  for (const auto& [name, c] : after)
    if (c && !before.count(name)) out.emplace_back(name, true);
  return out;
}

std::map<std::string, bool> CarrierTable::carrier() const {
  std::map<std::string, bool> out;
  for (const auto& [index, d] : devices_) out[d.name] = d.carrier;
  return out;
}

std::unique_ptr<LinkWatch> make_netlink_link_watch() {
  return std::make_unique<NetlinkLinkWatch>();
}

}  // namespace vmgw::backend
