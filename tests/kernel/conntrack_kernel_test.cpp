// NetlinkConntrack against the real kernel, inside the private network namespace set up by
// main.cpp. Flows are generated on loopback; an nftables table with a ct expression makes the
// namespace track them, and NAT rules give them the shapes of an elastic IP's flows:
//   UDP to 203.0.113.17:5000 DNATed to 127.0.0.5 ("the old VM"), :5001 to 127.0.0.6 ("the new
//   VM"); UDP to 127.0.0.7 SNATed to 127.0.0.9 ("outbound flows SNATed to the EIP").
// The table is read back with the conntrack tool (`conntrack -L`).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/conntrack.h"
#include "support.h"

namespace vmgw::backend {
namespace {

using kernel_test::ip;
using kernel_test::sh;

constexpr const char* kRuleset = R"(table inet vmgw_ct_test {
  chain out {
    type filter hook output priority 0
    ct state new counter
  }
}
table ip vmgw_ct_test_nat {
  chain out {
    type nat hook output priority -100
    ip daddr 203.0.113.17 udp dport 5000 dnat to 127.0.0.5
    ip daddr 203.0.113.17 udp dport 5001 dnat to 127.0.0.6
  }
  chain post {
    type nat hook postrouting priority 100
    ip daddr 127.0.0.7 snat to 127.0.0.9
  }
}
)";

sockaddr_in endpoint(const char* address, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  if (inet_pton(AF_INET, address, &a.sin_addr) != 1) throw std::runtime_error(address);
  return a;
}

// One UDP datagram from source port `sport` (explicit: closed sockets' ephemeral ports are
// reused, and the same 5-tuple would be the same conntrack entry).
void udp(const char* address, uint16_t port, uint16_t sport) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  auto from = endpoint("0.0.0.0", sport);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) < 0) {
    int e = errno;
    close(fd);
    FAIL() << "bind source port " << sport << ": " << std::strerror(e);
  }
  auto to = endpoint(address, port);
  ssize_t n = sendto(fd, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
  int e = errno;
  close(fd);
  ASSERT_EQ(n, 1) << "sendto " << address << ": " << std::strerror(e);
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
  }
  ~TcpFlow() {
    for (int fd : {server_, client_, listener_})
      if (fd >= 0) close(fd);
  }
  TcpFlow(const TcpFlow&) = delete;
  TcpFlow& operator=(const TcpFlow&) = delete;

 private:
  int listener_ = -1;
  int client_ = -1;
  int server_ = -1;
};

// The IPv4 conntrack table as the conntrack tool prints it, one entry a line.
std::vector<std::string> table() {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen("conntrack -L -f ipv4 2>/dev/null", "r"), pclose);
  if (!p) throw std::runtime_error("popen conntrack");
  std::vector<std::string> out;
  std::array<char, 1024> line{};
  while (std::fgets(line.data(), static_cast<int>(line.size()), p.get()) != nullptr)
    out.emplace_back(line.data());
  return out;
}

// How many entries contain every one of `parts`.
size_t count(const std::vector<std::string>& entries, const std::vector<std::string>& parts) {
  return static_cast<size_t>(std::count_if(entries.begin(), entries.end(), [&](const auto& e) {
    return std::all_of(parts.begin(), parts.end(),
                       [&](const auto& p) { return e.find(p) != std::string::npos; });
  }));
}

class ConntrackKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sh("conntrack -F -f ipv4 2>/dev/null"), 0);  // private namespace: ours to flush
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen("nft -f -", "w"), pclose);
    ASSERT_TRUE(p);
    std::fputs(kRuleset, p.get());
    ASSERT_EQ(pclose(p.release()), 0) << "nft -f failed";
    ASSERT_EQ(sh("ip route add 203.0.113.0/24 dev lo src 127.0.0.1"), 0);
  }
  void TearDown() override {
    sh("ip route del 203.0.113.0/24 dev lo 2>/dev/null");
    sh("nft delete table inet vmgw_ct_test 2>/dev/null");
    sh("nft delete table ip vmgw_ct_test_nat 2>/dev/null");
    sh("conntrack -F -f ipv4 2>/dev/null");
  }

  std::unique_ptr<Conntrack> ct = make_netlink_conntrack();
};

TEST_F(ConntrackKernelTest, ElasticIpMoveDeletesOnlyTheOldVmsFlows) {
  TcpFlow tcp(5900);
  ASSERT_NO_FATAL_FAILURE(udp("203.0.113.17", 5000, 40001));
  ASSERT_NO_FATAL_FAILURE(udp("203.0.113.17", 5000, 40002));
  ASSERT_NO_FATAL_FAILURE(udp("203.0.113.17", 5001, 40003));
  ASSERT_NO_FATAL_FAILURE(udp("127.0.0.7", 6000, 40004));
  ASSERT_NO_FATAL_FAILURE(udp("127.0.0.8", 6000, 40005));
  auto before = table();
  ASSERT_EQ(count(before, {"dst=203.0.113.17", "src=127.0.0.5"}), 2U)
      << ::testing::PrintToString(before);
  ASSERT_EQ(count(before, {"dst=203.0.113.17", "src=127.0.0.6"}), 1U);
  ASSERT_EQ(count(before, {"dst=127.0.0.7", "dst=127.0.0.9"}), 1U);
  ASSERT_EQ(count(before, {"dst=127.0.0.8"}), 1U);
  ASSERT_EQ(count(before, {"tcp", "dport=5900"}), 1U);

  // Inbound flows DNATed to the old VM.
  ConntrackFilter inbound;
  inbound.orig_dst = ip("203.0.113.17");
  inbound.reply_src = ip("127.0.0.5");
  EXPECT_EQ(ct->delete_matching(inbound), 2U);
  auto after = table();
  EXPECT_EQ(count(after, {"src=127.0.0.5"}), 0U);
  EXPECT_EQ(count(after, {"dst=203.0.113.17", "src=127.0.0.6"}), 1U);
  EXPECT_EQ(after.size(), before.size() - 2);

  // Outbound flows SNATed to the EIP.
  ConntrackFilter outbound;
  outbound.orig_src = ip("127.0.0.1");
  outbound.reply_dst = ip("127.0.0.9");
  EXPECT_EQ(ct->delete_matching(outbound), 1U);
  after = table();
  EXPECT_EQ(count(after, {"dst=127.0.0.9"}), 0U);
  EXPECT_EQ(count(after, {"dst=127.0.0.8"}), 1U);
  EXPECT_EQ(count(after, {"tcp", "dport=5900"}), 1U);
  EXPECT_EQ(after.size(), before.size() - 3);

  // Nothing left to delete.
  EXPECT_EQ(ct->delete_matching(inbound), 0U);
  EXPECT_EQ(ct->delete_matching(outbound), 0U);
  EXPECT_EQ(table().size(), before.size() - 3);
}

TEST_F(ConntrackKernelTest, SingleFieldFilterAndTcp) {
  TcpFlow tcp(5901);
  ASSERT_NO_FATAL_FAILURE(udp("127.0.0.2", 6000, 40007));
  auto before = table();
  ASSERT_EQ(count(before, {"tcp", "dport=5901"}), 1U);

  ConntrackFilter to_2;
  to_2.orig_dst = ip("127.0.0.2");
  EXPECT_EQ(ct->delete_matching(to_2), 1U);
  auto after = table();
  EXPECT_EQ(count(after, {"dst=127.0.0.2"}), 0U);
  EXPECT_EQ(count(after, {"tcp", "dport=5901"}), 1U);

  ConntrackFilter no_match;
  no_match.reply_src = ip("192.0.2.99");
  EXPECT_EQ(ct->delete_matching(no_match), 0U);
  EXPECT_EQ(table().size(), after.size());
}

TEST_F(ConntrackKernelTest, ManyEntriesSpanningSeveralDumpMessages) {
  for (int i = 0; i < 300; ++i)
    ASSERT_NO_FATAL_FAILURE(udp("127.0.0.3", 6000, static_cast<uint16_t>(41000 + i)));
  ASSERT_NO_FATAL_FAILURE(udp("127.0.0.4", 6000, 40006));
  ASSERT_EQ(count(table(), {"dst=127.0.0.3"}), 300U);
  ConntrackFilter f;
  f.orig_dst = ip("127.0.0.3");
  EXPECT_EQ(ct->delete_matching(f), 300U);
  auto after = table();
  EXPECT_EQ(count(after, {"dst=127.0.0.3"}), 0U);
  EXPECT_EQ(count(after, {"dst=127.0.0.4"}), 1U);
}

TEST_F(ConntrackKernelTest, EmptyFilterIsRefused) {
  ASSERT_NO_FATAL_FAILURE(udp("127.0.0.2", 6000, 40007));
  EXPECT_THROW(ct->delete_matching(ConntrackFilter{}), ConntrackError);
  EXPECT_EQ(count(table(), {"dst=127.0.0.2"}), 1U);
}

}  // namespace
}  // namespace vmgw::backend
