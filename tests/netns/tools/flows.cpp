// A UDP traffic tool for the multi-uplink tests: it makes many flows (each its own source port,
// so each a conntrack entry of its own that multipath routing places on its own), long-lived
// flows, and a receiver that says, per datagram, when it arrived and from which address. The
// test compares those lines with the moment it cut an uplink. Times are CLOCK_REALTIME
// nanoseconds: every namespace of the machine shares that clock.
//
//   vmgw-test-flows recv PORT
//       one line per datagram: "<recv_ns> <src_addr> <src_port> <payload>", flushed at once
//   vmgw-test-flows send ADDR PORT COUNT INTERVAL_MS TAG
//       COUNT new flows, one datagram each ("TAG <seq> <send_ns>"), one every INTERVAL_MS
//       (0: as fast as possible); each flow's socket is closed after its datagram
//   vmgw-test-flows stream ADDR PORT FLOWS INTERVAL_MS SECONDS TAG
//       FLOWS long-lived flows; every INTERVAL_MS each sends "TAG <flow> <seq> <send_ns>"
//
// The senders end with one line on stderr, "flows: MODE TAG: sent N of M datagrams, E errors
// (...)", which the tests read for the number actually sent. `send` exits 1 on any error: its
// sockets are fresh and unconnected, so an error is local (no route in the sender, no buffer)
// and a datagram the test counts on was never sent. `stream`'s sockets are connected, so the
// kernel reports an ICMP error that came back (port/host/net unreachable) on a later send(): it
// counts those apart and exits 1 only on any other error (or when nothing was sent at all).
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

long long now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<long long>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

void sleep_ms(long ms) {
  if (ms <= 0) return;
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

[[noreturn]] void die(const char* what) {
  std::perror(what);
  std::exit(2);
}

sockaddr_in address(const char* ip, const char* port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(std::atoi(port)));
  if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
    std::fprintf(stderr, "not an IPv4 address: %s\n", ip);
    std::exit(2);
  }
  return a;
}

int recv_loop(const char* port) {
  int fd = socket(AF_INET, SOCK_DGRAM, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a = address("0.0.0.0", port);
  if (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) die("bind");
  char buf[512];
  for (;;) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd, buf, sizeof buf - 1, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) continue;
    buf[n] = '\0';
    char src[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &from.sin_addr, src, sizeof src);
    std::printf("%lld %s %u %s\n", now_ns(), src, ntohs(from.sin_port), buf);
    std::fflush(stdout);
  }
}

// An ICMP error that came back for an earlier datagram of a connected socket.
bool icmp_reported(int e) {
  return e == ECONNREFUSED || e == EHOSTUNREACH || e == ENETUNREACH || e == EHOSTDOWN;
}

int send_new_flows(const sockaddr_in& to, int count, long interval_ms, const char* tag) {
  long sent = 0, errors = 0;
  int first_error = 0;
  for (int i = 0; i < count; ++i) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0) die("socket");
    std::string msg = std::string(tag) + " " + std::to_string(i) + " " + std::to_string(now_ns());
    ssize_t n =
        sendto(fd, msg.data(), msg.size(), 0, reinterpret_cast<const sockaddr*>(&to), sizeof to);
    if (n == static_cast<ssize_t>(msg.size())) {
      ++sent;
    } else {
      if (errors++ == 0) first_error = n < 0 ? errno : EMSGSIZE;
    }
    close(fd);
    sleep_ms(interval_ms);
  }
  std::fprintf(stderr, "flows: send %s: sent %ld of %d datagrams, %ld errors%s%s\n", tag, sent,
               count, errors, errors ? ", the first: " : "",
               errors ? std::strerror(first_error) : "");
  return errors == 0 ? 0 : 1;
}

int stream(const sockaddr_in& to, int flows, long interval_ms, double seconds, const char* tag) {
  std::vector<int> fds;
  for (int i = 0; i < flows; ++i) {
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0 || connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) != 0)
      die("socket");
    fds.push_back(fd);
  }
  const long long end = now_ns() + static_cast<long long>(seconds * 1e9);
  long sent = 0, tries = 0, icmp = 0, errors = 0;
  int first_icmp = 0, first_error = 0;
  for (long seq = 0; now_ns() < end; ++seq) {
    for (int i = 0; i < flows; ++i) {
      std::string msg = std::string(tag) + " " + std::to_string(i) + " " + std::to_string(seq) +
                        " " + std::to_string(now_ns());
      ++tries;
      ssize_t n = send(fds[static_cast<size_t>(i)], msg.data(), msg.size(), 0);
      if (n == static_cast<ssize_t>(msg.size())) {
        ++sent;
      } else if (n < 0 && icmp_reported(errno)) {  // an earlier datagram's ICMP error: go on
        if (icmp++ == 0) first_icmp = errno;
      } else {
        if (errors++ == 0) first_error = n < 0 ? errno : EMSGSIZE;
      }
    }
    sleep_ms(interval_ms);
  }
  std::fprintf(stderr,
               "flows: stream %s: sent %ld of %ld datagrams on %d flows, %ld ICMP errors "
               "reported%s%s, %ld other errors%s%s\n",
               tag, sent, tries, flows, icmp, icmp ? " (the first: " : "",
               icmp ? (std::string(std::strerror(first_icmp)) + ")").c_str() : "", errors,
               errors ? ", the first: " : "", errors ? std::strerror(first_error) : "");
  return errors == 0 && sent > 0 ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "recv" && argc == 3) return recv_loop(argv[2]);
  if (mode == "send" && argc == 7)
    return send_new_flows(address(argv[2], argv[3]), std::atoi(argv[4]), std::atol(argv[5]),
                          argv[6]);
  if (mode == "stream" && argc == 8)
    return stream(address(argv[2], argv[3]), std::atoi(argv[4]), std::atol(argv[5]),
                  std::atof(argv[6]), argv[7]);
  std::fprintf(stderr,
               "usage: vmgw-test-flows recv PORT\n"
               "       vmgw-test-flows send ADDR PORT COUNT INTERVAL_MS TAG\n"
               "       vmgw-test-flows stream ADDR PORT FLOWS INTERVAL_MS SECONDS TAG\n");
  return 2;
}
