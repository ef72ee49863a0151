// NFLOG against the real kernel, inside the private network namespace set up by main.cpp: a rule
// logs UDP to 127.0.0.1:9999 to group 7, and open_nflog(7) must hand the packet back.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "backend/nflog.h"
#include "support.h"

namespace vmgw::backend {
namespace {

using kernel_test::sh;

constexpr const char* kRuleset = R"(table inet vmgw_nflog_test {
  chain out {
    type filter hook output priority 0
    oifname "lo" udp dport 9999 log group 7 prefix "vmgw drop out test rule"
  }
}
)";

int64_t now_ns() {
  timespec t{};
  clock_gettime(CLOCK_REALTIME, &t);
  return int64_t{t.tv_sec} * 1'000'000'000 + t.tv_nsec;
}

// One UDP datagram of `size` bytes from 127.0.0.1:`sport` to 127.0.0.1:9999.
void send_udp(uint16_t sport, size_t size) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(sport);
  int bound = bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
  a.sin_port = htons(9999);
  std::vector<char> data(size, 'x');
  ssize_t n = sendto(fd, data.data(), data.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
  close(fd);
  ASSERT_EQ(bound, 0);
  ASSERT_EQ(n, static_cast<ssize_t>(size));
}

// Polls `src` until it yields at least one packet or 5 s pass (the kernel batches for 100 ms).
std::vector<LoggedPacket> wait_for_packets(NflogSource& src) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  std::vector<LoggedPacket> got;
  while (got.empty() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{src.fd(), POLLIN, 0};
    if (poll(&p, 1, 100) > 0) got = src.read_ready();
  }
  return got;
}

class NflogKernel : public testing::Test {
 protected:
  void SetUp() override {
    std::unique_ptr<FILE, int (*)(FILE*)> p(popen("nft -f -", "w"), pclose);
    ASSERT_TRUE(p);
    std::fputs(kRuleset, p.get());
    ASSERT_EQ(pclose(p.release()), 0) << "nft -f failed";
  }
  void TearDown() override { sh("nft delete table inet vmgw_nflog_test 2>/dev/null"); }
};

TEST_F(NflogKernel, ReceivesALoggedUdpPacket) {
  auto src = open_nflog(7);
  ASSERT_GE(src->fd(), 0);
  EXPECT_TRUE(src->read_ready().empty());  // non-blocking when nothing was logged
  int64_t before = now_ns();
  send_udp(40000, 500);

  auto got = wait_for_packets(*src);
  ASSERT_EQ(got.size(), 1U);
  const LoggedPacket& p = got[0];
  EXPECT_EQ(p.prefix, "vmgw drop out test rule");
  EXPECT_EQ(p.outdev, if_nametoindex("lo"));
  EXPECT_EQ(p.indev, 0U);
  EXPECT_EQ(p.hw_protocol, 0x0800);
  EXPECT_GE(p.time_ns, before - 1'000'000'000);
  EXPECT_LE(p.time_ns, now_ns() + 1'000'000'000);
  EXPECT_EQ(p.payload.size(), 128U);  // 20 + 8 + 500 bytes, cut at the copy range
  EXPECT_EQ(five_tuple(p.payload),
            (FiveTuple{"udp", "127.0.0.1", "127.0.0.1", 40000, 9999, std::nullopt}));
  EXPECT_EQ(src->overruns(), 0U);
}

TEST_F(NflogKernel, ReadsSeveralPacketsAtOnce) {
  auto src = open_nflog(7);
  for (uint16_t port = 40001; port <= 40005; ++port) send_udp(port, 1);
  std::vector<LoggedPacket> got;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (got.size() < 5 && std::chrono::steady_clock::now() < deadline) {
    auto more = wait_for_packets(*src);
    got.insert(got.end(), more.begin(), more.end());
  }
  ASSERT_EQ(got.size(), 5U);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(five_tuple(got[i].payload)->sport, 40001 + i);
}

TEST_F(NflogKernel, AGroupHasOneReader) {
  auto first = open_nflog(7);
  try {
    open_nflog(7);
    FAIL() << "a second socket bound group 7";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("NFLOG group 7"), std::string::npos) << e.what();
  }
  // Closing the first frees the group.
  first.reset();
  EXPECT_NO_THROW(open_nflog(7));
}

}  // namespace
}  // namespace vmgw::backend
