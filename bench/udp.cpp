// vmgw-bench-udp: the benchmark's own UDP traffic generator (bench/run, B1).
//
//   vmgw-bench-udp send --dst A.B.C.D --port P [--flows F] [--seconds S] [--payload BYTES]
//                       [--batch N] [--hello]
//   vmgw-bench-udp echo --port P
//
// send: F flows (F sockets, each bound to its own source port and connected to A.B.C.D:P), each
// sending batches of N datagrams with one sendmmsg() call, round robin, for S seconds. The
// default payload (18 bytes) makes 64-byte Ethernet frames (14 + 20 + 8 + 18, plus the 4-byte
// FCS a wire would add). With --hello, each flow first sends one longer datagram and waits for
// it to come back (from "echo" on the far side), so that conntrack has seen a reply and the
// flow is established before the measurement, as a flow of real traffic would be.
// Prints one JSON object: {"flows", "sent", "send_errors", "seconds", "pps_sent"}.
//
// echo: answers every datagram received on port P with the same bytes (the --hello datagrams;
// the measured traffic is counted and dropped by an nft counter before it reaches a socket).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

struct Options {
  std::string dst;
  int port = 0;
  int flows = 8;
  double seconds = 2.0;
  int payload = 18;
  int batch = 64;
  bool hello = false;
};

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "vmgw-bench-udp: %s\n", what.c_str());
  std::exit(1);
}

[[noreturn]] void die_errno(const std::string& what) {
  die(what + ": " + std::strerror(errno));
}

long to_long(std::string_view flag, const char* value, long lo, long hi) {
  char* end = nullptr;
  errno = 0;
  long v = std::strtol(value, &end, 10);
  if (errno != 0 || end == value || *end != '\0' || v < lo || v > hi)
    die(std::string(flag) + ": '" + value + "' is not a number in " + std::to_string(lo) + "-" +
        std::to_string(hi));
  return v;
}

Options parse(int argc, char** argv, int first) {
  Options o;
  for (int i = first; i < argc; ++i) {
    std::string_view a = argv[i];
    if (a == "--hello") {
      o.hello = true;
      continue;
    }
    if (i + 1 >= argc) die(std::string(a) + " needs a value");
    const char* v = argv[++i];
    if (a == "--dst") {
      o.dst = v;
    } else if (a == "--port") {
      o.port = static_cast<int>(to_long(a, v, 1, 65535));
    } else if (a == "--flows") {
      o.flows = static_cast<int>(to_long(a, v, 1, 1024));
    } else if (a == "--seconds") {
      char* end = nullptr;
      o.seconds = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(o.seconds > 0 && o.seconds <= 3600))
        die("--seconds: '" + std::string(v) + "' is not a duration in seconds (0-3600]");
    } else if (a == "--payload") {
      o.payload = static_cast<int>(to_long(a, v, 1, 1400));
    } else if (a == "--batch") {
      o.batch = static_cast<int>(to_long(a, v, 1, 1024));
    } else {
      die("unknown option " + std::string(a));
    }
  }
  if (o.port == 0) die("--port is required");
  return o;
}

sockaddr_in address(const std::string& ip, int port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, ip.c_str(), &sa.sin_addr) != 1)
    die("'" + ip + "' is not an IPv4 address");
  return sa;
}

// One flow's first datagram and its echo: up to 20 tries, 100 ms apart.
bool handshake(int fd, int payload) {
  std::vector<char> hello(static_cast<size_t>(payload) + 14, 'h');
  std::memcpy(hello.data(), "vmgw-bench-hi", 13);
  char buf[2048];
  for (int attempt = 0; attempt < 20; ++attempt) {
    if (::send(fd, hello.data(), hello.size(), 0) < 0 && errno != ECONNREFUSED) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 100) > 0) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n == static_cast<ssize_t>(hello.size())) return true;
    }
  }
  return false;
}

int send_main(const Options& o) {
  if (o.dst.empty()) die("--dst is required");
  const sockaddr_in dst = address(o.dst, o.port);
  std::vector<int> fds;
  for (int f = 0; f < o.flows; ++f) {
    int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) die_errno("socket");
    // connect() binds an ephemeral source port: one flow per socket.
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&dst), sizeof dst) != 0)
      die_errno("connect " + o.dst);
    fds.push_back(fd);
  }
  if (o.hello) {
    for (size_t f = 0; f < fds.size(); ++f)
      if (!handshake(fds[f], o.payload))
        die("flow " + std::to_string(f) + ": no echo from " + o.dst + ":" + std::to_string(o.port) +
            " (is the path open and 'echo' running?)");
  }

  std::vector<char> payload(static_cast<size_t>(o.payload), 'x');
  std::vector<iovec> iov(static_cast<size_t>(o.batch));
  std::vector<mmsghdr> msgs(static_cast<size_t>(o.batch));
  for (size_t i = 0; i < msgs.size(); ++i) {
    iov[i] = {payload.data(), payload.size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }

  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  unsigned long long sent = 0, errors = 0;
  auto now = start;
  for (size_t f = 0; now < end; f = (f + 1) % fds.size()) {
    int n = ::sendmmsg(fds[f], msgs.data(), static_cast<unsigned>(msgs.size()), 0);
    if (n > 0) {
      sent += static_cast<unsigned>(n);
    } else if (errno == ENOBUFS || errno == EAGAIN || errno == ECONNREFUSED || errno == EPERM) {
      // A full queue, an ICMP error from an earlier datagram, or a drop by a local rule: the
      // datagram is lost, the measurement goes on (the receiver counts what arrived).
      ++errors;
    } else {
      die_errno("sendmmsg");
    }
    now = Clock::now();
  }
  const double secs = std::chrono::duration<double>(now - start).count();
  std::printf(
      "{\"flows\": %d, \"sent\": %llu, \"send_errors\": %llu, \"seconds\": %.6f, "
      "\"pps_sent\": %.0f}\n",
      o.flows, sent, errors, secs, static_cast<double>(sent) / secs);
  for (int fd : fds) ::close(fd);
  return 0;
}

volatile std::sig_atomic_t stop = 0;
void on_signal(int) {
  stop = 1;
}

int echo_main(const Options& o) {
  int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) die_errno("socket");
  const sockaddr_in any = address("0.0.0.0", o.port);
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&any), sizeof any) != 0)
    die_errno("bind port " + std::to_string(o.port));
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  ::sigaction(SIGTERM, &sa, nullptr);
  ::sigaction(SIGINT, &sa, nullptr);
  char buf[2048];
  while (!stop) {
    sockaddr_in from{};
    socklen_t len = sizeof from;
    ssize_t n = ::recvfrom(fd, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) {
      if (errno == EINTR) continue;
      die_errno("recvfrom");
    }
    ::sendto(fd, buf, static_cast<size_t>(n), 0, reinterpret_cast<const sockaddr*>(&from), len);
  }
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) die("usage: vmgw-bench-udp send|echo OPTIONS (see bench/udp.cpp)");
  std::string_view cmd = argv[1];
  Options o = parse(argc, argv, 2);
  if (cmd == "send") return send_main(o);
  if (cmd == "echo") return echo_main(o);
  die("unknown command '" + std::string(cmd) + "' (send or echo)");
}
