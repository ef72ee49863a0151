#include "backend/garp.h"

#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <vector>

namespace vmgw::backend {
namespace {

Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}

TEST(GarpFrame, ByteByByte) {
  const std::array<uint8_t, 6> mac{0x02, 0x5a, 0x00, 0xc3, 0x7e, 0xf1};
  const std::vector<uint8_t> expected{
      // Ethernet: broadcast destination, source, EtherType ARP
      0xff, 0xff, 0xff, 0xff, 0xff, 0xff,  //
      0x02, 0x5a, 0x00, 0xc3, 0x7e, 0xf1,  //
      0x08, 0x06,                          //
      // ARP: htype Ethernet, ptype IPv4, hlen 6, plen 4, oper request
      0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01,  //
      // sender MAC, sender IP 203.0.113.17
      0x02, 0x5a, 0x00, 0xc3, 0x7e, 0xf1, 203, 0, 113, 17,  //
      // target MAC zero, target IP = sender IP
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 203, 0, 113, 17};
  EXPECT_EQ(gratuitous_arp_frame(mac, ip("203.0.113.17")), expected);
}

TEST(GarpFrame, LayoutForOtherAddressAndMac) {
  const std::array<uint8_t, 6> mac{0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff};
  auto f = gratuitous_arp_frame(mac, ip("10.0.0.1"));
  ASSERT_EQ(f.size(), 42U);  // unpadded: 14 Ethernet + 28 ARP
  EXPECT_EQ(std::vector<uint8_t>(f.begin(), f.begin() + 6), std::vector<uint8_t>(6, 0xff));
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 6, f.begin() + 12),
            std::vector<uint8_t>(mac.begin(), mac.end()));
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 22, f.begin() + 28),
            std::vector<uint8_t>(mac.begin(), mac.end()));
  const std::vector<uint8_t> addr{10, 0, 0, 1};
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 28, f.begin() + 32), addr);  // sender IP
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 32, f.begin() + 38), std::vector<uint8_t>(6, 0));
  EXPECT_EQ(std::vector<uint8_t>(f.begin() + 38, f.end()), addr);  // target IP
}

TEST(GarpSend, InvalidDeviceNameIsRefusedBeforeAnySocket) {
  try {
    send_gratuitous_arp("averyveryverylongname", ip("203.0.113.17"));
    ADD_FAILURE() << "no GarpError";
  } catch (const GarpError& e) {
    EXPECT_STREQ(e.what(),
                 "gratuitous ARP for 203.0.113.17 on averyveryverylongname: invalid device name");
  }
  EXPECT_THROW(send_gratuitous_arp("", ip("203.0.113.17")), GarpError);
}

TEST(GarpFakeAnnouncer, RecordsCallsInOrder) {
  FakeAnnouncer fake;
  Announcer& a = fake;
  a.announce("wan0", ip("203.0.113.17"));
  a.announce("wan1", ip("198.51.100.2"));
  a.announce("wan0", ip("203.0.113.17"));
  EXPECT_EQ(fake.announcements, (std::vector<Announcement>{{"wan0", ip("203.0.113.17")},
                                                           {"wan1", ip("198.51.100.2")},
                                                           {"wan0", ip("203.0.113.17")}}));
}

}  // namespace
}  // namespace vmgw::backend
