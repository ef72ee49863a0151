// Health probes sent through one uplink each, whatever the routing table says: every probe
// socket is bound to the uplink's device (SO_BINDTODEVICE) and source address and carries the
// uplink's fwmark (SO_MARK), so policy routing can send it to the uplink's own table.
//
// Two kinds: an ICMP echo (one raw socket per uplink; replies matched by echo id, sequence,
// a per-process cookie in the payload and the target as source), or a TCP connect (one
// non-blocking socket per probe; a SYN-ACK or an RST both prove the path, and the socket is
// closed at once with an RST, so no TIME_WAIT piles up). The prober only sends and reports
// answers; judging them is the daemon's UplinkHealth.
#pragma once

#include <chrono>
#include <compare>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "model/net.h"

namespace vmgw::backend {

using ProbeTime = std::chrono::steady_clock::time_point;

// Where one probe goes.
struct ProbeDestination {
  Ipv4 address;
  uint16_t tcp_port = 0;  // 0: ICMP echo
  auto operator<=>(const ProbeDestination&) const = default;
};

// The sockets of one uplink.
struct ProbeUplink {
  std::string name;
  std::string device;   // SO_BINDTODEVICE
  Ipv4 source;          // bind(); 0.0.0.0: not bound to an address
  uint32_t fwmark = 0;  // SO_MARK; 0: not set
  // A TCP attempt still unanswered after this long is closed (and that probe is lost).
  std::chrono::milliseconds tcp_timeout{1600};
  auto operator<=>(const ProbeUplink&) const = default;
};

struct ProbeAnswer {
  std::string uplink;
  uint32_t round = 0;  // as given to send_round
  Ipv4 target;
  uint16_t tcp_port = 0;  // 0: an ICMP echo reply
  ProbeTime at;           // arrival (ICMP: the kernel's receive timestamp)
  auto operator<=>(const ProbeAnswer&) const = default;
};

class Prober {
 public:
  virtual ~Prober() = default;
  // Makes the prober's uplinks exactly `uplinks`: closes the sockets (and TCP attempts) of
  // removed uplinks and of those whose device, source or mark changed. Sockets open when a probe
  // needs them (an uplink's ICMP socket at its first echo, then kept), so a socket that cannot
  // be opened (device or address missing) is tried again at the next round; send_error() says
  // why. An uplink keeps its echo id as long as it stays configured.
  virtual void configure(const std::vector<ProbeUplink>& uplinks) = 0;
  // Sends round `round` of `uplink`: one probe to each destination. A probe that cannot be sent
  // is lost (send_error() says why); nothing is thrown. Unknown uplinks are ignored.
  virtual void send_round(const std::string& uplink, uint32_t round,
                          const std::vector<ProbeDestination>& to, ProbeTime now) = 0;
  // To poll for POLLIN: readable when read_ready() has answers to hand out. The socket prober
  // returns one epoll descriptor covering its ICMP sockets and pending TCP connects (so the
  // caller's loop needs no POLLOUT).
  virtual std::vector<int> fds() const = 0;
  // Non-blocking: the answers that arrived, in arrival order. TCP attempts older than their
  // uplink's tcp_timeout at `now` are closed first (lost, even if their answer is just in).
  virtual std::vector<ProbeAnswer> read_ready(ProbeTime now) = 0;
  // Why the uplink's last probe could not be opened or sent ("" when it could).
  virtual std::string send_error(const std::string& uplink) const = 0;
};

// Raw ICMP and TCP sockets in the calling process's network namespace (needs CAP_NET_RAW and
// CAP_NET_ADMIN). Throws std::runtime_error if the epoll descriptor cannot be created.
std::unique_ptr<Prober> make_socket_prober();

// Sends nothing: records rounds and hands out the answers a test scripts, either one by one
// (answer()) or for every probe through `responder`.
class FakeProber : public Prober {
 public:
  struct Sent {
    std::string uplink;
    uint32_t round = 0;
    std::vector<ProbeDestination> to;
    ProbeTime at;
  };
  // For each probe sent: the delay of its answer, or nullopt to lose it.
  using Responder = std::function<std::optional<std::chrono::milliseconds>(
      const Sent& round, const ProbeDestination& to)>;

  void configure(const std::vector<ProbeUplink>& uplinks) override;
  void send_round(const std::string& uplink, uint32_t round,
                  const std::vector<ProbeDestination>& to, ProbeTime now) override;
  std::vector<int> fds() const override { return {fd}; }
  // The scripted answers due by `now` (their `at` not after it), in order of `at`.
  std::vector<ProbeAnswer> read_ready(ProbeTime now) override;
  std::string send_error(const std::string& uplink) const override;

  // Scripts one answer, handed out by the first read_ready() at or after a.at.
  void answer(ProbeAnswer a) { pending_.push_back(std::move(a)); }
  // If set, asked for every probe as it is sent; its answer is scripted as by answer().
  Responder responder;

  int fd = 1000;                              // what fds() returns (never polled)
  std::vector<ProbeUplink> uplinks;           // the last configure()
  int configures = 0;                         // calls to configure()
  std::vector<Sent> sent;                     // every round, in order
  std::map<std::string, std::string> errors;  // what send_error() reports, by uplink

 private:
  std::vector<ProbeAnswer> pending_;
};

}  // namespace vmgw::backend
