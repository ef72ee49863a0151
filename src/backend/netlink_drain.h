// Reading the notifications a netlink socket holds, shared by the watches (link_watch, net_watch).
#pragma once

#include <libmnl/libmnl.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>

namespace vmgw::backend {

// One netlink datagram: the kernel's notifications never exceed it.
inline constexpr size_t kNetlinkDatagram = size_t{64} * 1024;
using NetlinkBuffer = std::array<uint8_t, kNetlinkDatagram>;

// Hands each message waiting on the non-blocking socket `fd` to `on_message(nlmsghdr*)`, at
// most 256 datagrams a call (a burst must not hold the daemon's loop; the rest waits for the
// next call). Returns whether notifications were lost (ENOBUFS): the caller must look again,
// with a dump. Throws std::runtime_error "`who`: receive notifications: ..." on other errors.
template <class OnMessage>
bool drain_notifications(int fd, NetlinkBuffer& buf, const char* who, OnMessage&& on_message) {
  bool lost = false;
  for (int i = 0; i < 256; ++i) {
    ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        lost = true;
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      throw std::runtime_error(std::string(who) +
                               ": receive notifications: " + std::strerror(errno));
    }
    int left = static_cast<int>(n);
    for (auto* nlh = static_cast<nlmsghdr*>(static_cast<void*>(buf.data()));
         mnl_nlmsg_ok(nlh, left); nlh = static_cast<nlmsghdr*>(mnl_nlmsg_next(nlh, &left)))
      on_message(nlh);
  }
  return lost;
}

}  // namespace vmgw::backend
