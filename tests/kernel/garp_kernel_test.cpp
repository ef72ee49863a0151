// send_gratuitous_arp against the real kernel, inside the private network namespace set up by
// main.cpp: the frame sent on one end of a veth pair is captured on the other end.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "backend/garp.h"
#include "support.h"

namespace vmgw::backend {
namespace {

using kernel_test::ip;
using kernel_test::sh;

// An AF_PACKET socket receiving the ARP frames that arrive on one device.
class ArpCapture {
 public:
  explicit ArpCapture(const std::string& device) {
    fd_ = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ARP));
    if (fd_ < 0) throw std::runtime_error(std::string("packet socket: ") + std::strerror(errno));
    sockaddr_ll at{};
    at.sll_family = AF_PACKET;
    at.sll_protocol = htons(ETH_P_ARP);
    at.sll_ifindex = static_cast<int>(if_nametoindex(device.c_str()));
    if (at.sll_ifindex == 0 || bind(fd_, reinterpret_cast<sockaddr*>(&at), sizeof at) < 0)
      throw std::runtime_error("bind packet socket to " + device + ": " + std::strerror(errno));
  }
  ~ArpCapture() { close(fd_); }
  ArpCapture(const ArpCapture&) = delete;
  ArpCapture& operator=(const ArpCapture&) = delete;

  struct Frame {
    std::vector<uint8_t> bytes;
    unsigned char pkttype = 0;  // PACKET_BROADCAST, PACKET_HOST, ...
  };

  // The next frame, nullopt after `timeout_ms` without one.
  std::optional<Frame> next(int timeout_ms = 2000) {
    timeval timeout{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    std::vector<uint8_t> buf(2048);
    sockaddr_ll from{};
    socklen_t len = sizeof from;
    ssize_t n = recvfrom(fd_, buf.data(), buf.size(), 0, reinterpret_cast<sockaddr*>(&from), &len);
    if (n < 0) return std::nullopt;
    buf.resize(static_cast<size_t>(n));
    return Frame{buf, from.sll_pkttype};
  }

 private:
  int fd_ = -1;
};

class GarpKernelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sh("ip link add vmgwga0 address 02:00:5e:00:53:01 type veth peer name vmgwga0p"), 0);
  }
  void TearDown() override { sh("ip link del vmgwga0 2>/dev/null"); }

  static void up() { ASSERT_EQ(sh("ip link set vmgwga0 up && ip link set vmgwga0p up"), 0); }

  const std::array<uint8_t, 6> mac_{0x02, 0x00, 0x5e, 0x00, 0x53, 0x01};
};

// Runs `f`, expecting a GarpError with exactly `message`.
template <typename F>
void expect_error(F&& f, const std::string& message) {
  try {
    f();
    ADD_FAILURE() << "no GarpError, expected: " << message;
  } catch (const GarpError& e) {
    EXPECT_EQ(std::string(e.what()), message);
  }
}

TEST_F(GarpKernelTest, PeerReceivesExactlyTheBuiltFrame) {
  ASSERT_NO_FATAL_FAILURE(up());
  ArpCapture capture("vmgwga0p");
  send_gratuitous_arp("vmgwga0", ip("203.0.113.17"));
  auto frame = capture.next();
  ASSERT_TRUE(frame) << "no ARP frame arrived on the peer";
  EXPECT_EQ(frame->bytes, gratuitous_arp_frame(mac_, ip("203.0.113.17")));
  EXPECT_EQ(frame->pkttype, PACKET_BROADCAST);
  EXPECT_FALSE(capture.next(200)) << "more than one frame was sent";
}

TEST_F(GarpKernelTest, AnnouncerSendsOneFramePerCall) {
  ASSERT_NO_FATAL_FAILURE(up());
  ArpCapture capture("vmgwga0p");
  auto announcer = make_garp_announcer();
  announcer->announce("vmgwga0", ip("198.51.100.2"));
  announcer->announce("vmgwga0", ip("198.51.100.3"));
  auto first = capture.next();
  auto second = capture.next();
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(first->bytes, gratuitous_arp_frame(mac_, ip("198.51.100.2")));
  EXPECT_EQ(second->bytes, gratuitous_arp_frame(mac_, ip("198.51.100.3")));
}

TEST_F(GarpKernelTest, Refusals) {
  expect_error([] { send_gratuitous_arp("vmgwga0", ip("203.0.113.17")); },
               "gratuitous ARP for 203.0.113.17 on vmgwga0: send: Network is down");
  expect_error([] { send_gratuitous_arp("vmgwnone0", ip("203.0.113.17")); },
               "gratuitous ARP for 203.0.113.17 on vmgwnone0: No such device");
  expect_error([] { send_gratuitous_arp("lo", ip("127.0.0.1")); },
               "gratuitous ARP for 127.0.0.1 on lo: not an Ethernet device");
}

}  // namespace
}  // namespace vmgw::backend
