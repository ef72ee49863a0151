// NetlinkConntrack::list and delete_flows against the real kernel, inside the private network
// namespace set up by main.cpp. Flows are generated on loopback; an nftables table with a ct
// expression makes the namespace track them (and marks one flow). Accounting is switched on in
// the namespace so that the counters are filled in. The conntrack tool (`conntrack -L`) is the
// independent witness.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/conntrack.h"
#include "support.h"

namespace vmgw::backend {
namespace {

using kernel_test::ip;
using kernel_test::run;
using kernel_test::sh;

constexpr const char* kRuleset = R"(table inet vmgw_ct_list_test {
  chain out {
    type filter hook output priority 0
    ct state new counter
    udp dport 6002 ct mark set 42
  }
}
)";

// A protocol number conntrack tracks generically (no ports): 253 is reserved for experiments.
constexpr uint8_t kGenericProto = 253;

sockaddr_in endpoint(const char* address, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, address, &a.sin_addr) != 1) throw std::runtime_error(address);
  return a;
}

// Sends `payload` on a fresh socket of `type`/`protocol`, bound to `sport` if nonzero.
void send_one(int type, int protocol, const char* address, uint16_t port, uint16_t sport,
              const void* payload, size_t size) {
  int fd = socket(AF_INET, type | SOCK_CLOEXEC, protocol);
  ASSERT_GE(fd, 0) << "socket: " << std::strerror(errno);
  if (sport != 0) {
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto from = endpoint("0.0.0.0", sport);
    if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) < 0) {
      int e = errno;
      close(fd);
      FAIL() << "bind source port " << sport << ": " << std::strerror(e);
    }
  }
  auto to = endpoint(address, port);
  ssize_t n = sendto(fd, payload, size, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  int e = errno;
  close(fd);
  ASSERT_EQ(n, static_cast<ssize_t>(size)) << "sendto " << address << ": " << std::strerror(e);
}

void udp(const char* address, uint16_t port, uint16_t sport) {
  send_one(SOCK_DGRAM, 0, address, port, sport, "x", 1);
}

// An ICMP echo request with identifier `id` (the kernel answers it: the flow is replied).
void ping(const char* address, uint16_t id) {
  struct {
    icmphdr h;
    char data[8];
  } msg{};
  msg.h.type = ICMP_ECHO;
  msg.h.un.echo.id = htons(id);
  msg.h.un.echo.sequence = htons(1);
  std::memcpy(msg.data, "vmgwtest", sizeof msg.data);
  uint32_t sum = 0;
  const auto* bytes = reinterpret_cast<const uint8_t*>(&msg);
  for (size_t i = 0; i + 1 < sizeof msg; i += 2)
    sum += static_cast<uint32_t>(bytes[i] << 8 | bytes[i + 1]);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  msg.h.checksum = htons(static_cast<uint16_t>(~sum));
  send_one(SOCK_RAW, IPPROTO_ICMP, address, 0, 0, &msg, sizeof msg);
}

// An established TCP connection on loopback, kept open for the test's lifetime.
class TcpFlow {
 public:
  explicit TcpFlow(uint16_t port) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(listener_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto at = endpoint("127.0.0.1", port);
    if (bind(listener_, reinterpret_cast<sockaddr*>(&at), sizeof at) < 0 ||
        listen(listener_, 1) < 0)
      throw std::runtime_error(std::string("listen: ") + std::strerror(errno));
    client_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connect(client_, reinterpret_cast<sockaddr*>(&at), sizeof at) < 0)
      throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
    server_ = accept(listener_, nullptr, nullptr);
    sockaddr_in local{};
    socklen_t len = sizeof local;
    if (getsockname(client_, reinterpret_cast<sockaddr*>(&local), &len) < 0)
      throw std::runtime_error(std::string("getsockname: ") + std::strerror(errno));
    client_port_ = ntohs(local.sin_port);
  }
  ~TcpFlow() {
    for (int fd : {server_, client_, listener_})
      if (fd >= 0) close(fd);
  }
  TcpFlow(const TcpFlow&) = delete;
  TcpFlow& operator=(const TcpFlow&) = delete;

  uint16_t client_port() const { return client_port_; }

 private:
  int listener_ = -1;
  int client_ = -1;
  int server_ = -1;
  uint16_t client_port_ = 0;
};

// The flow of `flows` with this protocol and original destination (and source port, if given).
std::optional<ConntrackFlow> find(const std::vector<ConntrackFlow>& flows, uint8_t proto,
                                  const char* dst, uint16_t dport,
                                  std::optional<uint16_t> sport = std::nullopt) {
  for (const auto& f : flows)
    if (f.proto == proto && f.orig_dst == ip(dst) && f.orig_dport == dport &&
        (!sport || f.orig_sport == *sport))
      return f;
  return std::nullopt;
}

std::string text(const std::vector<ConntrackFlow>& flows) {
  std::string out;
  for (const auto& f : flows) out += describe(f) + "\n";
  return out;
}

// How many lines of `conntrack -L` contain `part`.
size_t tool_count(const std::string& part) {
  std::string out = run("conntrack -L -f ipv4 2>/dev/null");
  size_t n = 0;
  size_t start = 0;
  while (start < out.size()) {
    size_t end = out.find('\n', start);
    if (end == std::string::npos) end = out.size();
    if (out.substr(start, end - start).find(part) != std::string::npos) ++n;
    start = end + 1;
  }
  return n;
}

class ConntrackListKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    acct_ = run("cat /proc/sys/net/netfilter/nf_conntrack_acct 2>/dev/null");
    acct_.erase(std::remove(acct_.begin(), acct_.end(), '\n'), acct_.end());
    // Private namespace: its sysctl and table are ours to change.
    ASSERT_EQ(sh("echo 1 > /proc/sys/net/netfilter/nf_conntrack_acct"), 0);
    ASSERT_EQ(sh("conntrack -F -f ipv4 2>/dev/null"), 0);
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen("nft -f -", "w"), pclose);
    ASSERT_TRUE(p);
    std::fputs(kRuleset, p.get());
    ASSERT_EQ(pclose(p.release()), 0) << "nft -f failed";
  }
  void TearDown() override {
    sh("nft delete table inet vmgw_ct_list_test 2>/dev/null");
    sh("conntrack -F -f ipv4 2>/dev/null");
    if (!acct_.empty()) sh("echo " + acct_ + " > /proc/sys/net/netfilter/nf_conntrack_acct");
  }

  std::string acct_;
  std::unique_ptr<Conntrack> ct = make_netlink_conntrack();
};

TEST_F(ConntrackListKernelTest, ListsUdpAndTcpFlowsAndDeletesExactlyTheGivenOne) {
  TcpFlow tcp(5911);
  ASSERT_NO_FATAL_FAILURE(udp("127.0.0.2", 6001, 40101));
  ASSERT_NO_FATAL_FAILURE(udp("127.0.0.2", 6002, 40102));

  // By the address both UDP flows go to: exactly those two.
  auto to_2 = ct->list(ip("127.0.0.2"));
  ASSERT_EQ(to_2.size(), 2U) << text(to_2);
  auto u1 = find(to_2, IPPROTO_UDP, "127.0.0.2", 6001);
  auto u2 = find(to_2, IPPROTO_UDP, "127.0.0.2", 6002);
  ASSERT_TRUE(u1 && u2);
  EXPECT_EQ(u1->orig_src, ip("127.0.0.1"));
  EXPECT_EQ(u1->orig_sport, 40101);
  EXPECT_EQ(u1->reply_src, ip("127.0.0.2"));
  EXPECT_EQ(u1->reply_dst, ip("127.0.0.1"));
  EXPECT_EQ(u1->reply_sport, 6001);
  EXPECT_EQ(u1->reply_dport, 40101);
  EXPECT_EQ(u1->state, "");
  EXPECT_FALSE(u1->assured);  // unreplied
  EXPECT_GT(u1->timeout, 0U);
  EXPECT_LE(u1->timeout, 30U);
  EXPECT_EQ(u1->mark, 0U);
  EXPECT_EQ(u2->mark, 42U);
  EXPECT_EQ(u1->packets_orig, 1U);
  EXPECT_EQ(u1->bytes_orig, 29U);  // 20 (IP) + 8 (UDP) + 1
  EXPECT_EQ(u1->packets_reply, 0U);
  EXPECT_EQ(u2->orig_sport, 40102);

  // The TCP connection involves 127.0.0.1 (as every flow here), not 127.0.0.2.
  auto to_1 = ct->list(ip("127.0.0.1"));
  auto t = find(to_1, IPPROTO_TCP, "127.0.0.1", 5911, tcp.client_port());
  ASSERT_TRUE(t) << text(to_1);
  EXPECT_EQ(t->state, "ESTABLISHED");
  EXPECT_TRUE(t->assured);
  EXPECT_EQ(t->reply_sport, 5911);
  EXPECT_EQ(t->reply_dport, tcp.client_port());
  EXPECT_GT(t->timeout, 30U);
  EXPECT_GE(t->packets_orig, 2U);   // SYN, ACK
  EXPECT_GE(t->packets_reply, 1U);  // SYN-ACK
  EXPECT_TRUE(find(to_1, IPPROTO_UDP, "127.0.0.2", 6001));
  EXPECT_FALSE(find(to_2, IPPROTO_TCP, "127.0.0.1", 5911));

  auto all = ct->list(std::nullopt);
  EXPECT_EQ(all.size(), to_1.size());
  EXPECT_EQ(all.size(), tool_count("src=127.0.0.1"));
  EXPECT_TRUE(ct->list(ip("192.0.2.1")).empty());

  // Delete the first UDP flow only.
  EXPECT_EQ(ct->delete_flows({*u1}), 1U);
  auto after = ct->list(ip("127.0.0.2"));
  ASSERT_EQ(after.size(), 1U);
  EXPECT_TRUE(same_flow(after[0], *u2));
  EXPECT_TRUE(find(ct->list(ip("127.0.0.1")), IPPROTO_TCP, "127.0.0.1", 5911));
  EXPECT_EQ(tool_count("dport=6001"), 0U);
  EXPECT_EQ(tool_count("dport=6002"), 1U);
  EXPECT_EQ(tool_count("dport=5911"), 1U);

  // Gone already: not counted, not an error; nothing else is touched.
  EXPECT_EQ(ct->delete_flows({*u1}), 0U);
  EXPECT_EQ(ct->delete_flows({}), 0U);
  EXPECT_EQ(ct->list(std::nullopt).size(), all.size() - 1);

  // The TCP connection, identified by its original tuple only (state and counters differ).
  ConntrackFlow by_tuple;
  by_tuple.proto = IPPROTO_TCP;
  by_tuple.orig_src = ip("127.0.0.1");
  by_tuple.orig_dst = ip("127.0.0.1");
  by_tuple.orig_sport = tcp.client_port();
  by_tuple.orig_dport = 5911;
  EXPECT_EQ(ct->delete_flows({by_tuple, *u1}), 1U);
  EXPECT_EQ(tool_count("dport=5911"), 0U);
  EXPECT_EQ(ct->list(ip("127.0.0.2")).size(), 1U);
}

// ICMP (type/code/id instead of ports) and a protocol without ports: deleting one of them
// deletes just it. A tuple the library could not encode would reach the kernel without one, and
// a ctnetlink delete without a tuple flushes the whole table.
TEST_F(ConntrackListKernelTest, IcmpAndGenericFlowsAreDeletedAlone) {
  ASSERT_NO_FATAL_FAILURE(ping("127.0.0.3", 0x4242));
  ASSERT_NO_FATAL_FAILURE(send_one(SOCK_RAW, kGenericProto, "127.0.0.4", 0, 0, "x", 1));
  ASSERT_NO_FATAL_FAILURE(udp("127.0.0.5", 6003, 40103));

  auto icmp = ct->list(ip("127.0.0.3"));
  ASSERT_EQ(icmp.size(), 1U);
  EXPECT_EQ(icmp[0].proto, IPPROTO_ICMP);
  EXPECT_EQ(icmp[0].orig_sport, 0x4242);
  EXPECT_EQ(icmp[0].orig_dport, ICMP_ECHO << 8);
  EXPECT_EQ(icmp[0].reply_sport, 0x4242);
  EXPECT_EQ(icmp[0].reply_dport, ICMP_ECHOREPLY << 8);
  EXPECT_EQ(icmp[0].state, "");
  EXPECT_EQ(icmp[0].packets_orig, 1U);
  EXPECT_EQ(icmp[0].packets_reply, 1U);  // the kernel answered
  EXPECT_EQ(to_json(icmp[0])["icmp_type"], ICMP_ECHO);

  auto generic = ct->list(ip("127.0.0.4"));
  ASSERT_EQ(generic.size(), 1U);
  EXPECT_EQ(generic[0].proto, kGenericProto);
  EXPECT_EQ(generic[0].orig_sport, 0);
  EXPECT_EQ(generic[0].orig_dport, 0);

  size_t before = ct->list(std::nullopt).size();
  ASSERT_GE(before, 3U);

  EXPECT_EQ(ct->delete_flows({icmp[0]}), 1U);
  EXPECT_TRUE(ct->list(ip("127.0.0.3")).empty());
  EXPECT_EQ(ct->list(std::nullopt).size(), before - 1);

  EXPECT_EQ(ct->delete_flows({generic[0]}), 1U);
  EXPECT_TRUE(ct->list(ip("127.0.0.4")).empty());
  EXPECT_EQ(ct->list(std::nullopt).size(), before - 2);
  EXPECT_EQ(ct->list(ip("127.0.0.5")).size(), 1U);
  EXPECT_EQ(tool_count("dport=6003"), 1U);
}

}  // namespace
}  // namespace vmgw::backend
