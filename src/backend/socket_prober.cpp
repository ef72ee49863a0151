// Prober over real sockets (see prober.h). Every socket is non-blocking and watched by one
// epoll descriptor: ICMP sockets for EPOLLIN, connecting TCP sockets for EPOLLOUT. The daemon's
// loop only polls the epoll descriptor for POLLIN.
#include <arpa/inet.h>
#include <errno.h>
#include <linux/icmp.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <random>
#include <stdexcept>
#include <utility>

#include "backend/probe_packets.h"
#include "backend/prober.h"

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24  // linux/in.h; glibc's netinet/in.h may lack it
#endif

namespace vmgw::backend {
namespace {

namespace pkt = probe_packets;

constexpr int kMaxEvents = 64;
// Replies read from one ICMP socket per read_ready(): a flood cannot stall the daemon's loop.
constexpr int kMaxRepliesPerSocket = 256;
// A receive timestamp claiming an older packet than this is not trusted (the wall clock was
// stepped); the reply is taken as arriving when read.
constexpr auto kMaxAge = std::chrono::seconds(10);

class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  explicit operator bool() const { return fd_ >= 0; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
};

std::string failure(const std::string& what, int err) {
  return what + ": " + std::strerror(err);
}

sockaddr_in socket_address(Ipv4 a, uint16_t port) {
  sockaddr_in s{};
  s.sin_family = AF_INET;
  s.sin_addr.s_addr = htonl(a.value);
  s.sin_port = htons(port);
  return s;
}

const sockaddr* as_sockaddr(const sockaddr_in& s) {
  return reinterpret_cast<const sockaddr*>(&s);
}

// Echo ids are unique per uplink within the process, whatever the number of probers.
uint16_t next_echo_id() {
  static std::atomic<uint16_t> next{static_cast<uint16_t>(std::random_device{}())};
  return next.fetch_add(1);
}

uint64_t random_cookie() {
  std::random_device rd;
  return uint64_t{rd()} << 32 | rd();
}

// A socket that goes out through the uplink whatever the routing table says: bound to its
// device and source, marked with its fwmark. Empty, with `error` set, on failure.
Fd open_socket(const ProbeUplink& u, int type, int protocol, std::string& error) {
  if (u.device.empty() || u.device.size() >= IFNAMSIZ) {
    error = "invalid device name '" + u.device + "'";
    return {};
  }
  Fd fd(::socket(AF_INET, type | SOCK_NONBLOCK | SOCK_CLOEXEC, protocol));
  if (!fd) {
    error = failure("socket", errno);
    return {};
  }
  if (setsockopt(fd.get(), SOL_SOCKET, SO_BINDTODEVICE, u.device.c_str(),
                 static_cast<socklen_t>(u.device.size() + 1)) < 0) {
    error = failure("bind to device " + u.device, errno);
    return {};
  }
  if (u.fwmark != 0 && setsockopt(fd.get(), SOL_SOCKET, SO_MARK, &u.fwmark, sizeof u.fwmark) < 0) {
    error = failure("set mark " + std::to_string(u.fwmark), errno);
    return {};
  }
  if (u.source.value != 0) {
    // TCP: take the port at connect(), so many probes to one target share the port space well.
    int one = 1;
    if (type == SOCK_STREAM)
      setsockopt(fd.get(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    auto a = socket_address(u.source, 0);
    if (bind(fd.get(), as_sockaddr(a), sizeof a) < 0) {
      error = failure("bind to " + u.source.str(), errno);
      return {};
    }
  }
  return fd;
}

Fd open_icmp(const ProbeUplink& u, std::string& error) {
  Fd fd = open_socket(u, SOCK_RAW, IPPROTO_ICMP, error);
  if (!fd) return {};
  // A raw socket sees every ICMP packet of its device: let only echo replies through.
  icmp_filter filter{~(1U << ICMP_ECHOREPLY)};
  if (setsockopt(fd.get(), SOL_RAW, ICMP_FILTER, &filter, sizeof filter) < 0) {
    error = failure("set ICMP filter", errno);
    return {};
  }
  // Arrival times from the kernel: RTTs stay right while the daemon's loop is busy.
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof one);
  return fd;
}

// When the packet of `m` arrived, from its SCM_TIMESTAMPNS (wall clock) as an age subtracted
// from `now`; `now` if there is none or it is implausible.
ProbeTime arrival(msghdr& m, ProbeTime now) {
  for (cmsghdr* c = CMSG_FIRSTHDR(&m); c != nullptr; c = CMSG_NXTHDR(&m, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_TIMESTAMPNS) continue;
    timespec at{}, wall{};
    std::memcpy(&at, CMSG_DATA(c), sizeof at);
    clock_gettime(CLOCK_REALTIME, &wall);
    auto age = std::chrono::seconds(wall.tv_sec - at.tv_sec) +
               std::chrono::nanoseconds(wall.tv_nsec - at.tv_nsec);
    if (age.count() >= 0 && age <= kMaxAge)
      return now - std::chrono::duration_cast<ProbeTime::duration>(age);
  }
  return now;
}

class SocketProber : public Prober {
 public:
  SocketProber() : epoll_(epoll_create1(EPOLL_CLOEXEC)), cookie_(random_cookie()) {
    if (!epoll_) throw std::runtime_error(failure("prober: epoll_create1", errno));
  }

  void configure(const std::vector<ProbeUplink>& uplinks) override {
    std::map<std::string, Link> next;
    for (const auto& u : uplinks) {
      if (next.count(u.name)) continue;
      auto it = links_.find(u.name);
      if (it == links_.end()) {
        Link l;
        l.echo_id = next_echo_id();
        l.cfg = u;
        next.emplace(u.name, std::move(l));
        continue;
      }
      Link l = std::move(it->second);
      links_.erase(it);
      if (l.cfg.device != u.device || l.cfg.source != u.source || l.cfg.fwmark != u.fwmark)
        close_sockets(u.name, l);  // reopened, the new way, by the next round
      l.cfg = u;
      next.emplace(u.name, std::move(l));
    }
    for (auto& [name, l] : links_) close_sockets(name, l);  // removed uplinks
    links_ = std::move(next);
  }

  void send_round(const std::string& uplink, uint32_t round,
                  const std::vector<ProbeDestination>& to, ProbeTime now) override {
    auto it = links_.find(uplink);
    if (it == links_.end()) return;
    Link& l = it->second;
    std::string error;
    std::vector<Ipv4> echo_targets;
    for (const auto& d : to)
      if (d.tcp_port == 0) echo_targets.push_back(d.address);
    if (!echo_targets.empty()) send_echoes(uplink, l, round, echo_targets, error);
    for (const auto& d : to)
      if (d.tcp_port != 0) start_connect(uplink, l, round, d, now, error);
    l.error = error;
  }

  std::vector<int> fds() const override { return {epoll_.get()}; }

  std::vector<ProbeAnswer> read_ready(ProbeTime now) override {
    std::vector<ProbeAnswer> out = std::exchange(immediate_, {});
    // First: an attempt past its timeout is lost even if its answer is waiting now.
    expire(now);
    std::array<epoll_event, kMaxEvents> events{};
    int n = epoll_wait(epoll_.get(), events.data(), kMaxEvents, 0);
    for (int i = 0; i < n; ++i) {
      int fd = events[static_cast<size_t>(i)].data.fd;
      if (auto owner = icmp_owner_.find(fd); owner != icmp_owner_.end())
        read_echoes(owner->second, fd, now, out);
      else if (attempts_.count(fd))
        finish_connect(fd, now, out);
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const ProbeAnswer& a, const ProbeAnswer& b) { return a.at < b.at; });
    return out;
  }

  std::string send_error(const std::string& uplink) const override {
    auto it = links_.find(uplink);
    return it == links_.end() ? "" : it->second.error;
  }

 private:
  struct Link {
    ProbeUplink cfg;
    uint16_t echo_id = 0;
    Fd icmp;                         // opened at the first ICMP probe
    std::vector<Ipv4> echo_targets;  // of the latest round: the only accepted reply sources
    std::string error;
  };
  struct Attempt {
    std::string uplink;
    uint32_t round = 0;
    ProbeDestination to;
    ProbeTime started;
    Fd fd;
  };

  // Adds `fd` to the epoll set; false, with `error` set, if the kernel refuses (out of memory,
  // or past max_user_watches).
  bool watch(int fd, uint32_t events, std::string& error) {
    epoll_event e{};
    e.events = events;
    e.data.fd = fd;
    if (epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &e) == 0) return true;
    error = failure("watch socket", errno);
    return false;
  }

  void unwatch(int fd) { epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr); }

  void close_sockets(const std::string& name, Link& l) {
    if (l.icmp) {
      icmp_owner_.erase(l.icmp.get());
      unwatch(l.icmp.get());
      l.icmp.reset();
    }
    for (auto it = attempts_.begin(); it != attempts_.end();) {
      if (it->second.uplink == name) {
        unwatch(it->first);
        it = attempts_.erase(it);
      } else {
        ++it;
      }
    }
    std::erase_if(immediate_, [&](const ProbeAnswer& a) { return a.uplink == name; });
  }

  void send_echoes(const std::string& name, Link& l, uint32_t round,
                   const std::vector<Ipv4>& targets, std::string& error) {
    if (!l.icmp) {
      l.icmp = open_icmp(l.cfg, error);
      if (!l.icmp) return;
      if (!watch(l.icmp.get(), EPOLLIN, error)) {
        l.icmp.reset();
        return;
      }
      icmp_owner_[l.icmp.get()] = name;
    }
    l.echo_targets = targets;
    auto packet = pkt::echo_request(l.echo_id, static_cast<uint16_t>(round & 0xffffU),
                                    pkt::payload(cookie_, round));
    for (Ipv4 t : targets) {
      auto to = socket_address(t, 0);
      if (sendto(l.icmp.get(), packet.data(), packet.size(), 0, as_sockaddr(to), sizeof to) >= 0)
        continue;
      int err = errno;
      error = failure("ICMP echo to " + t.str(), err);
      // The device went away (or came back as another one): the next round opens a new socket.
      if (err == ENODEV || err == ENXIO || err == EADDRNOTAVAIL) {
        icmp_owner_.erase(l.icmp.get());
        unwatch(l.icmp.get());
        l.icmp.reset();
        return;
      }
    }
  }

  void start_connect(const std::string& name, Link& l, uint32_t round, const ProbeDestination& d,
                     ProbeTime now, std::string& error) {
    Fd fd = open_socket(l.cfg, SOCK_STREAM, 0, error);
    if (!fd) return;
    // close() then aborts with an RST: no FIN handshake, no TIME_WAIT per probe.
    linger abort{1, 0};
    setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &abort, sizeof abort);
    auto to = socket_address(d.address, d.tcp_port);
    if (connect(fd.get(), as_sockaddr(to), sizeof to) == 0 || errno == ECONNREFUSED) {
      immediate_.push_back({name, round, d.address, d.tcp_port, now});
      return;
    }
    if (errno != EINPROGRESS) {
      error =
          failure("TCP connect to " + d.address.str() + ":" + std::to_string(d.tcp_port), errno);
      return;
    }
    int key = fd.get();
    if (!watch(key, EPOLLOUT, error)) return;
    attempts_.emplace(key, Attempt{name, round, d, now, std::move(fd)});
  }

  void read_echoes(const std::string& name, int fd, ProbeTime now, std::vector<ProbeAnswer>& out) {
    const Link& l = links_.at(name);
    for (int i = 0; i < kMaxRepliesPerSocket; ++i) {
      std::array<uint8_t, 576> buf{};
      alignas(cmsghdr) std::array<char, 128> control{};
      iovec iov{buf.data(), buf.size()};
      msghdr m{};
      m.msg_iov = &iov;
      m.msg_iovlen = 1;
      m.msg_control = control.data();
      m.msg_controllen = control.size();
      ssize_t got = recvmsg(fd, &m, MSG_DONTWAIT);
      if (got < 0) {
        if (errno == EINTR) continue;
        return;  // EAGAIN: drained
      }
      auto reply = pkt::parse_echo_reply({buf.data(), static_cast<size_t>(got)});
      if (!reply || reply->id != l.echo_id) continue;
      auto probe = pkt::parse_payload(reply->data);
      if (!probe || probe->cookie != cookie_ ||
          static_cast<uint16_t>(probe->round & 0xffffU) != reply->sequence)
        continue;
      if (std::find(l.echo_targets.begin(), l.echo_targets.end(), reply->source) ==
          l.echo_targets.end())
        continue;
      out.push_back({name, probe->round, reply->source, 0, arrival(m, now)});
    }
  }

  void finish_connect(int fd, ProbeTime now, std::vector<ProbeAnswer>& out) {
    auto it = attempts_.find(fd);
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) {
      sockaddr_in peer{};
      socklen_t peer_len = sizeof peer;
      if (getpeername(fd, reinterpret_cast<sockaddr*>(&peer), &peer_len) < 0) return;  // not yet
    }
    // Connected (SYN-ACK) or refused (RST): either way the target answered through the uplink.
    const Attempt& a = it->second;
    if (err == 0 || err == ECONNREFUSED)
      out.push_back({a.uplink, a.round, a.to.address, a.to.tcp_port, now});
    unwatch(fd);
    attempts_.erase(it);
  }

  void expire(ProbeTime now) {
    for (auto it = attempts_.begin(); it != attempts_.end();) {
      auto link = links_.find(it->second.uplink);
      if (link == links_.end() || now - it->second.started >= link->second.cfg.tcp_timeout) {
        unwatch(it->first);
        it = attempts_.erase(it);
      } else {
        ++it;
      }
    }
  }

  Fd epoll_;
  uint64_t cookie_;
  std::map<std::string, Link> links_;
  std::map<int, std::string> icmp_owner_;  // ICMP socket -> uplink
  std::map<int, Attempt> attempts_;        // connecting TCP socket -> its probe
  std::vector<ProbeAnswer> immediate_;     // connects that completed inside connect()
};

}  // namespace

std::unique_ptr<Prober> make_socket_prober() {
  return std::make_unique<SocketProber>();
}

}  // namespace vmgw::backend
