// The socket prober, the link watch and the uplink monitor against the real kernel.
//
// Topology: the test process's private namespace (main.cpp) is the gateway; the far end lives in
// ANOTHER network namespace, owned by a child process this fixture forks (it exits, and the
// namespace with everything in it goes, when the fixture ends or the test process dies):
//
//   gateway (this namespace)                    far namespace (child)
//   vmgwpa 198.51.100.2/24  <--- veth --->  vmgwpa-far 198.51.100.1/24
//   vmgwpb 203.0.113.2/24   <--- veth --->  vmgwpb-far 203.0.113.1/24
//                                           lo: 192.0.2.1/32 (the probe target)
//
// The gateway's main table sends 192.0.2.0/24 via B; fwmark 0x100 looks up table 100, whose
// default route is via A. Uplink "a" (device vmgwpa, mark 0x100) must reach the target through
// A all the same. No packet leaves the two namespaces.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/link_watch.h"
#include "backend/prober.h"
#include "daemon/uplink_monitor.h"
#include "support.h"

namespace vmgw::backend {
namespace {

using namespace std::chrono_literals;
using kernel_test::ip;
using kernel_test::run;
using kernel_test::sh;
using Clock = std::chrono::steady_clock;

const Ipv4 kTarget = ip("192.0.2.1");
constexpr uint32_t kMark = 0x100;

// A network namespace of its own, held by a child process blocked on a pipe: closing the pipe
// (or this process dying: PR_SET_PDEATHSIG) ends the child, and with it the namespace.
class FarNamespace {
 public:
  FarNamespace() {
    int ready[2], hold[2];
    if (pipe2(ready, O_CLOEXEC) != 0 || pipe2(hold, O_CLOEXEC) != 0)
      throw std::runtime_error("pipe2 failed");
    pid_ = fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      close(ready[0]);
      close(hold[1]);
      char ok = unshare(CLONE_NEWNET) == 0 ? 'y' : 'n';
      if (write(ready[1], &ok, 1) != 1) _exit(1);
      char c;
      while (read(hold[0], &c, 1) > 0) {
      }
      _exit(0);
    }
    close(ready[1]);
    close(hold[0]);
    hold_ = hold[1];
    char ok = 'n';
    bool got = read(ready[0], &ok, 1) == 1;
    close(ready[0]);
    if (!got || ok != 'y') {
      end();
      throw std::runtime_error("the child could not unshare its network namespace");
    }
  }
  ~FarNamespace() { end(); }
  FarNamespace(const FarNamespace&) = delete;
  FarNamespace& operator=(const FarNamespace&) = delete;

  int pid() const { return pid_; }
  std::string path() const { return "/proc/" + std::to_string(pid_) + "/ns/net"; }
  // `cmd` run inside the far namespace.
  std::string in(const std::string& cmd) const { return "nsenter --net=" + path() + " " + cmd; }

  // A TCP socket listening on address:port inside the far namespace (sockets stay in the
  // namespace they were created in; this thread comes back to its own at once).
  int listen_tcp(Ipv4 address, uint16_t port) const {
    int self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    int far = open(path().c_str(), O_RDONLY | O_CLOEXEC);
    int fd = -1;
    if (self >= 0 && far >= 0 && setns(far, CLONE_NEWNET) == 0) {
      fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_addr.s_addr = htonl(address.value);
      a.sin_port = htons(port);
      if (fd >= 0 &&
          (bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || listen(fd, 1024) != 0)) {
        close(fd);
        fd = -1;
      }
      if (setns(self, CLONE_NEWNET) != 0) std::abort();  // never run on in the wrong namespace
    }
    if (self >= 0) close(self);
    if (far >= 0) close(far);
    return fd;
  }

 private:
  void end() {
    if (hold_ >= 0) close(hold_);
    hold_ = -1;
    if (pid_ > 0) waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }
  int pid_ = -1;
  int hold_ = -1;
};

class ProberKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    far_ = std::make_unique<FarNamespace>();
    const std::string pid = std::to_string(far_->pid());
    ASSERT_EQ(sh("ip link add vmgwpa type veth peer name vmgwpa-far && "
                 "ip link add vmgwpb type veth peer name vmgwpb-far && "
                 "ip link set vmgwpa-far netns " +
                 pid + " && ip link set vmgwpb-far netns " + pid +
                 " && ip addr add 198.51.100.2/24 dev vmgwpa && ip link set vmgwpa up && "
                 "ip addr add 203.0.113.2/24 dev vmgwpb && ip link set vmgwpb up && "
                 "ip route add 192.0.2.0/24 via 203.0.113.1 dev vmgwpb && "
                 "ip rule add fwmark 0x100 lookup 100 && "
                 "ip route add default via 198.51.100.1 dev vmgwpa table 100"),
              0);
    // Replies come back on A although the main table says B: loose reverse-path filtering, as
    // a multi-uplink gateway needs.
    rp_filter_ = run("sysctl -n net.ipv4.conf.all.rp_filter");
    rp_filter_.erase(rp_filter_.find_last_not_of(" \n") + 1);
    ASSERT_EQ(sh("sysctl -qw net.ipv4.conf.all.rp_filter=2 net.ipv4.conf.vmgwpa.rp_filter=2"), 0);
    ASSERT_EQ(sh(far("ip link set lo up") + " && " + far("ip addr add 192.0.2.1/32 dev lo") +
                 " && " + far("ip addr add 198.51.100.1/24 dev vmgwpa-far") + " && " +
                 far("ip addr add 203.0.113.1/24 dev vmgwpb-far") + " && " +
                 far("ip link set vmgwpa-far up") + " && " + far("ip link set vmgwpb-far up") +
                 // Only answer ARP for addresses of the asking interface: 192.0.2.1 is not
                 // on-link anywhere, so only a route via a gateway reaches it.
                 " && " + far("sysctl -qw net.ipv4.conf.all.arp_ignore=1")),
              0);
    // The route lookup the main table would make goes through B.
    ASSERT_NE(run("ip route get 192.0.2.1").find("dev vmgwpb"), std::string::npos);
  }

  void TearDown() override {
    sh("ip rule del fwmark 0x100 lookup 100 2>/dev/null; ip link del vmgwpa 2>/dev/null; "
       "ip link del vmgwpb 2>/dev/null; ip route flush table 100 2>/dev/null");
    if (!rp_filter_.empty()) sh("sysctl -qw net.ipv4.conf.all.rp_filter=" + rp_filter_);
    far_.reset();
  }

  std::string far(const std::string& cmd) const { return far_->in(cmd); }

  // Drops what arrives at the far end on `device` (optionally only `what`, an nft expression).
  void far_drop(const std::string& device, const std::string& what = "") {
    ASSERT_EQ(sh(far("nft 'add table inet vmgwprobe; add chain inet vmgwprobe in { type filter "
                     "hook prerouting priority -300; }; add rule inet vmgwprobe in iifname \"" +
                     device + "\" " + what + " drop'")),
              0);
  }
  void far_accept_all() { ASSERT_EQ(sh(far("nft delete table inet vmgwprobe")), 0); }

  static ProbeUplink uplink_a() { return {"a", "vmgwpa", ip("198.51.100.2"), kMark, 1600ms}; }

  // Polls the prober's fds for `d` and returns every answer.
  static std::vector<ProbeAnswer> collect(Prober& p, std::chrono::milliseconds d) {
    std::vector<ProbeAnswer> out;
    auto end = Clock::now() + d;
    for (auto now = Clock::now(); now < end; now = Clock::now()) {
      std::vector<pollfd> pfds;
      for (int fd : p.fds()) pfds.push_back({fd, POLLIN, 0});
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - now).count();
      poll(pfds.data(), pfds.size(), static_cast<int>(std::max<int64_t>(left, 1)));
      for (auto& a : p.read_ready(Clock::now())) out.push_back(a);
    }
    return out;
  }

  // Sends rounds first..first+n-1, 100 ms apart, to `to`; returns the rounds answered.
  static std::set<uint32_t> rounds_answered(Prober& p, uint32_t first, uint32_t n,
                                            const std::vector<ProbeDestination>& to) {
    std::set<uint32_t> answered;
    for (uint32_t r = first; r < first + n; ++r) {
      p.send_round("a", r, to, Clock::now());
      for (const auto& a : collect(p, 100ms)) answered.insert(a.round);
    }
    for (const auto& a : collect(p, 200ms)) answered.insert(a.round);
    return answered;
  }

  std::unique_ptr<FarNamespace> far_;
  std::string rp_filter_;  // as it was before the test
};

TEST_F(ProberKernelTest, IcmpEchoIsAnsweredThroughTheBoundDevice) {
  auto p = make_socket_prober();
  p->configure({uplink_a()});
  std::vector<ProbeAnswer> got;
  for (uint32_t r = 0; r < 5; ++r) {
    auto sent = Clock::now();
    p->send_round("a", r, {{kTarget, 0}}, sent);
    auto answers = collect(*p, 100ms);
    ASSERT_EQ(answers.size(), 1U) << "round " << r;
    EXPECT_EQ(answers[0].uplink, "a");
    EXPECT_EQ(answers[0].round, r);
    EXPECT_EQ(answers[0].target, kTarget);
    EXPECT_EQ(answers[0].tcp_port, 0);
    // The kernel's receive time: after the send, and not after it was read.
    EXPECT_GE(answers[0].at, sent);
    EXPECT_LE(answers[0].at, Clock::now());
  }
  EXPECT_EQ(p->send_error("a"), "");
}

TEST_F(ProberKernelTest, TcpSynAckAndRstBothAnswerAndADroppedSynDoesNot) {
  int listener = far_->listen_tcp(kTarget, 8080);
  ASSERT_GE(listener, 0);
  far_drop("vmgwpa-far", "tcp dport 8082");
  auto p = make_socket_prober();
  auto a = uplink_a();
  a.tcp_timeout = 500ms;
  p->configure({a});
  auto fds_before = std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                  std::filesystem::directory_iterator());
  p->send_round("a", 7, {{kTarget, 8080}, {kTarget, 8081}, {kTarget, 8082}}, Clock::now());
  auto answers = collect(*p, 300ms);
  std::set<uint16_t> ports;
  for (const auto& x : answers) {
    EXPECT_EQ(x.round, 7U);
    EXPECT_EQ(x.target, kTarget);
    ports.insert(x.tcp_port);
  }
  EXPECT_EQ(ports, (std::set<uint16_t>{8080, 8081}));  // listening: SYN-ACK; closed: RST
  // The dropped attempt is closed after tcp_timeout: no descriptor is left behind.
  collect(*p, 400ms);
  auto fds_after = std::distance(std::filesystem::directory_iterator("/proc/self/fd"),
                                 std::filesystem::directory_iterator());
  EXPECT_EQ(fds_after, fds_before);
  EXPECT_EQ(p->send_error("a"), "");
  close(listener);
}

TEST_F(ProberKernelTest, AFarSideDropLeavesRoundsUnanswered) {
  int listener = far_->listen_tcp(kTarget, 8080);
  ASSERT_GE(listener, 0);
  auto p = make_socket_prober();
  // Given up before the kernel retransmits a dropped SYN (1 s): a retransmission after the drop
  // ends would answer its old round, late but rightly.
  auto a = uplink_a();
  a.tcp_timeout = 700ms;
  p->configure({a});
  const std::vector<ProbeDestination> to{{kTarget, 0}, {kTarget, 8080}};
  EXPECT_EQ(rounds_answered(*p, 0, 3, to), (std::set<uint32_t>{0, 1, 2}));
  far_drop("vmgwpa-far");
  EXPECT_TRUE(rounds_answered(*p, 3, 3, to).empty());
  far_accept_all();
  EXPECT_EQ(rounds_answered(*p, 6, 3, to), (std::set<uint32_t>{6, 7, 8}));
  close(listener);
}

TEST_F(ProberKernelTest, DeviceAndMarkChooseTheUplinkNotTheMainTable) {
  auto p = make_socket_prober();
  p->configure({uplink_a()});
  const std::vector<ProbeDestination> ping{{kTarget, 0}};
  // Nothing gets through B: still answered, so the probes went through A...
  far_drop("vmgwpb-far");
  EXPECT_EQ(rounds_answered(*p, 0, 3, ping), (std::set<uint32_t>{0, 1, 2}));
  far_accept_all();
  // ...and nothing through A: unanswered, so they did not go through B.
  far_drop("vmgwpa-far");
  EXPECT_TRUE(rounds_answered(*p, 3, 3, ping).empty());
  far_accept_all();
  // Without the mark, the device alone has no route to the target (the main table's is via B):
  // the mark is what takes the probes to A's table.
  auto unmarked = uplink_a();
  unmarked.fwmark = 0;
  p->configure({unmarked});
  EXPECT_TRUE(rounds_answered(*p, 6, 3, ping).empty());
  p->configure({uplink_a()});
  EXPECT_EQ(rounds_answered(*p, 9, 2, ping), (std::set<uint32_t>{9, 10}));
  // The device binding holds even against the mark: bound to B with A's mark (whose table only
  // has a route via A), the probes go through B, which is dropping.
  p->configure({{"a", "vmgwpb", ip("203.0.113.2"), kMark, 1600ms}});
  far_drop("vmgwpb-far");
  EXPECT_TRUE(rounds_answered(*p, 11, 2, ping).empty());
  far_accept_all();
  far_drop("vmgwpa-far");
  EXPECT_EQ(rounds_answered(*p, 13, 2, ping), (std::set<uint32_t>{13, 14}));
}

TEST_F(ProberKernelTest, ProbesComeFromTheUplinksSourceAddress) {
  ASSERT_EQ(sh("ip addr add 198.51.100.3/24 dev vmgwpa"), 0);  // secondary
  // The far end only answers 198.51.100.3; the route's preferred source is 198.51.100.2.
  far_drop("vmgwpa-far", "ip saddr != 198.51.100.3");
  auto p = make_socket_prober();
  p->configure({uplink_a()});
  const std::vector<ProbeDestination> ping{{kTarget, 0}};
  EXPECT_TRUE(rounds_answered(*p, 0, 2, ping).empty());
  auto from3 = uplink_a();
  from3.source = ip("198.51.100.3");
  p->configure({from3});
  EXPECT_EQ(rounds_answered(*p, 2, 2, ping), (std::set<uint32_t>{2, 3}));
}

TEST_F(ProberKernelTest, SocketsThatCannotOpenSayWhy) {
  auto p = make_socket_prober();
  p->configure({{"nodev", "vmgwnone0", ip("198.51.100.2"), kMark, 1600ms},
                {"noaddr", "vmgwpa", ip("198.51.100.77"), kMark, 1600ms}});
  p->send_round("nodev", 0, {{kTarget, 0}}, Clock::now());
  p->send_round("noaddr", 0, {{kTarget, 0}, {kTarget, 80}}, Clock::now());
  EXPECT_EQ(p->send_error("nodev"), "bind to device vmgwnone0: No such device");
  EXPECT_EQ(p->send_error("noaddr"), "bind to 198.51.100.77: Cannot assign requested address");
  EXPECT_TRUE(collect(*p, 50ms).empty());
  // The address appears: the next round opens the socket and works.
  ASSERT_EQ(sh("ip addr add 198.51.100.77/24 dev vmgwpa"), 0);
  p->send_round("noaddr", 1, {{kTarget, 0}}, Clock::now());
  EXPECT_EQ(p->send_error("noaddr"), "");
  auto answers = collect(*p, 300ms);
  ASSERT_EQ(answers.size(), 1U);
  EXPECT_EQ(answers[0].uplink, "noaddr");
}

// Polls the watch for up to 2 s until it reports a change of `device`.
std::vector<CarrierChange> changes_of(LinkWatch& w, const std::string& device) {
  std::vector<CarrierChange> out;
  auto end = Clock::now() + 2s;
  while (out.empty() && Clock::now() < end) {
    pollfd p{w.fd(), POLLIN, 0};
    poll(&p, 1, 100);
    for (auto& c : w.read_ready())
      if (c.first == device) out.push_back(c);
  }
  return out;
}

TEST_F(ProberKernelTest, LinkWatchReportsCarrierLossWhenThePeerGoesDown) {
  auto w = make_netlink_link_watch();
  EXPECT_TRUE(w->carrier().at("vmgwpa"));
  EXPECT_TRUE(w->carrier().at("lo"));
  ASSERT_EQ(sh(far("ip link set vmgwpa-far down")), 0);
  EXPECT_EQ(changes_of(*w, "vmgwpa"), (std::vector<CarrierChange>{{"vmgwpa", false}}));
  EXPECT_FALSE(w->carrier().at("vmgwpa"));
  EXPECT_TRUE(w->carrier().at("vmgwpb"));
  ASSERT_EQ(sh(far("ip link set vmgwpa-far up")), 0);
  EXPECT_EQ(changes_of(*w, "vmgwpa"), (std::vector<CarrierChange>{{"vmgwpa", true}}));
  // Administratively down on this side, and deleted.
  ASSERT_EQ(sh("ip link set vmgwpb down"), 0);
  EXPECT_EQ(changes_of(*w, "vmgwpb"), (std::vector<CarrierChange>{{"vmgwpb", false}}));
  ASSERT_EQ(sh("ip link set vmgwpb up"), 0);
  EXPECT_EQ(changes_of(*w, "vmgwpb"), (std::vector<CarrierChange>{{"vmgwpb", true}}));
  ASSERT_EQ(sh("ip link del vmgwpb"), 0);
  EXPECT_EQ(changes_of(*w, "vmgwpb"), (std::vector<CarrierChange>{{"vmgwpb", false}}));
  EXPECT_FALSE(w->carrier().count("vmgwpb"));
}

// The whole engine with the defaults (100 ms, 8 down, 10 up) on real sockets: a silently
// dropping uplink is out within a second, back after 10 answered rounds, and out at once
// when its carrier goes.
TEST_F(ProberKernelTest, MonitorTakesADeadUplinkOutWithinASecond) {
  auto prober = make_socket_prober();
  auto links = make_netlink_link_watch();
  daemon::UplinkMonitor monitor(*prober, *links);
  daemon::UplinkProbeSpec spec;
  spec.name = "a";
  spec.device = "vmgwpa";
  spec.source = ip("198.51.100.2");
  spec.fwmark = kMark;
  spec.targets = {{kTarget, 0}};
  auto start = monitor.configure({spec}, Clock::now());
  ASSERT_EQ(start, (std::vector<daemon::UplinkMonitor::Change>{
                       {"a", daemon::UplinkState::up, "carrier at start"}}));

  // The daemon's loop, for `d` or until the first change.
  auto loop = [&](std::chrono::milliseconds d) {
    std::vector<std::pair<Clock::time_point, daemon::UplinkMonitor::Change>> out;
    auto end = Clock::now() + d;
    while (out.empty() && Clock::now() < end) {
      std::vector<pollfd> pfds;
      for (int fd : monitor.fds()) pfds.push_back({fd, POLLIN, 0});
      auto wake = std::min(monitor.next_deadline(), end);
      auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - Clock::now()).count();
      poll(pfds.data(), pfds.size(), static_cast<int>(std::max<int64_t>(ms, 0)));
      std::vector<int> ready;
      for (const auto& p : pfds)
        if (p.revents != 0) ready.push_back(p.fd);
      auto now = Clock::now();
      for (auto& c : monitor.poll(ready, now)) out.emplace_back(now, c);
    }
    return out;
  };

  EXPECT_TRUE(loop(1500ms).empty());
  auto st = monitor.status()[0];
  EXPECT_GE(st.answered, 13U);
  EXPECT_TRUE(st.rtt_ms);
  EXPECT_LT(*st.rtt_ms, 50.0);

  far_drop("vmgwpa-far");  // link up, everything silently dropped
  auto dropped = Clock::now();
  auto changes = loop(2s);
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].second.state, daemon::UplinkState::down);
  EXPECT_LT(changes[0].first - dropped, 1s);
  EXPECT_EQ(changes[0].second.reason.rfind("no answer for 8", 0), 0U) << changes[0].second.reason;

  far_accept_all();
  auto healed = Clock::now();
  changes = loop(3s);
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].second, (daemon::UplinkMonitor::Change{"a", daemon::UplinkState::up,
                                                              "10 probes answered in a row"}));
  EXPECT_GE(changes[0].first - healed, 900ms);  // ten rounds, 100 ms apart
  EXPECT_LT(changes[0].first - healed, 1500ms);

  ASSERT_EQ(sh(far("ip link set vmgwpa-far down")), 0);
  auto cut = Clock::now();
  changes = loop(2s);
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].second,
            (daemon::UplinkMonitor::Change{"a", daemon::UplinkState::down, "carrier lost"}));
  EXPECT_LT(changes[0].first - cut, 300ms);
  st = monitor.status()[0];
  EXPECT_FALSE(st.carrier);
  EXPECT_EQ(st.transitions, 3U);
  EXPECT_GT(st.loss, 0.0);
}

}  // namespace
}  // namespace vmgw::backend
