#include "backend/probe_packets.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <vector>

namespace vmgw::backend::probe_packets {
namespace {

using Bytes = std::vector<uint8_t>;

// An IPv4 header (20 bytes, or 24 with one option word) from 198.51.100.1 to 203.0.113.2 in
// front of `l4`. The IP checksum is left 0: the kernel checked it before a raw socket sees it.
Bytes ipv4(const Bytes& l4, uint8_t proto = 1, uint16_t fragment = 0, bool option = false) {
  const size_t ihl = option ? 24 : 20;
  const size_t total = ihl + l4.size();
  Bytes p(total, 0);
  p[0] = static_cast<uint8_t>(0x40 | (ihl / 4));
  p[2] = static_cast<uint8_t>(total >> 8);
  p[3] = static_cast<uint8_t>(total & 0xff);
  p[6] = static_cast<uint8_t>(fragment >> 8);
  p[7] = static_cast<uint8_t>(fragment & 0xff);
  p[8] = 64;  // TTL
  p[9] = proto;
  const uint8_t addresses[] = {198, 51, 100, 1, 203, 0, 113, 2};
  std::copy(std::begin(addresses), std::end(addresses), p.begin() + 12);
  if (option) p[20] = p[21] = p[22] = 1;  // NOP NOP NOP EOL
  std::copy(l4.begin(), l4.end(), p.begin() + static_cast<long>(ihl));
  return p;
}

// The reply a host sends to echo_request(id, seq, data): same bytes, type 0, new checksum.
Bytes echo_reply(uint16_t id, uint16_t seq, const Bytes& data) {
  Bytes icmp = echo_request(id, seq, data);
  icmp[0] = 0;
  icmp[2] = icmp[3] = 0;
  uint16_t sum = internet_checksum(icmp);
  icmp[2] = static_cast<uint8_t>(sum >> 8);
  icmp[3] = static_cast<uint8_t>(sum & 0xff);
  return icmp;
}

TEST(ProbePayload, ByteByByte) {
  EXPECT_EQ(payload(0x0102030405060708ULL, 0xa0b0c0d0U),
            (Bytes{1, 2, 3, 4, 5, 6, 7, 8, 0xa0, 0xb0, 0xc0, 0xd0, 'v', 'm', 'g', 'w'}));
}

TEST(ProbePayload, ReadsBackOnlyItsOwnShape) {
  auto p = payload(0xfeedfacecafebeefULL, 77);
  EXPECT_EQ(parse_payload(p), (ProbeId{0xfeedfacecafebeefULL, 77}));
  auto other = p;
  other[15] = 'x';
  EXPECT_FALSE(parse_payload(other));
  EXPECT_FALSE(parse_payload(Bytes(p.begin(), p.end() - 1)));
  EXPECT_FALSE(parse_payload(Bytes{}));
}

TEST(InternetChecksum, Rfc1071Example) {
  // RFC 1071 section 3: the one's complement sum of these words is 0xddf2.
  EXPECT_EQ(internet_checksum(Bytes{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}), 0x220d);
  EXPECT_EQ(internet_checksum(Bytes{0x01}), static_cast<uint16_t>(~0x0100));  // odd: padded
  EXPECT_EQ(internet_checksum(Bytes{}), 0xffff);
}

TEST(EchoRequest, ByteByByte) {
  // 0x0800 + 0x1234 + 0x0001 = 0x1a35, complemented 0xe5ca.
  EXPECT_EQ(echo_request(0x1234, 1, {}), (Bytes{8, 0, 0xe5, 0xca, 0x12, 0x34, 0x00, 0x01}));
  auto withdata = echo_request(7, 0xffff, Bytes{1, 2, 3});
  ASSERT_EQ(withdata.size(), 11U);
  EXPECT_EQ(internet_checksum(withdata), 0);  // a correct checksum sums to zero
  EXPECT_EQ(Bytes(withdata.begin() + 8, withdata.end()), (Bytes{1, 2, 3}));
}

TEST(EchoReply, ParsesAReplyToOurRequest) {
  auto data = payload(42, 9);
  auto r = parse_echo_reply(ipv4(echo_reply(0xbeef, 9, data)));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->source, *Ipv4::parse("198.51.100.1"));
  EXPECT_EQ(r->id, 0xbeef);
  EXPECT_EQ(r->sequence, 9);
  EXPECT_EQ(r->data, data);
  // With IP options, and with trailing bytes past the IP total length (Ethernet padding).
  EXPECT_EQ(parse_echo_reply(ipv4(echo_reply(0xbeef, 9, data), 1, 0, true)), r);
  auto padded = ipv4(echo_reply(0xbeef, 9, data));
  padded.insert(padded.end(), 6, 0);
  EXPECT_EQ(parse_echo_reply(padded), r);
}

TEST(EchoReply, RefusesEverythingElse) {
  auto reply = echo_reply(1, 2, payload(3, 2));
  EXPECT_FALSE(parse_echo_reply(ipv4(echo_request(1, 2, payload(3, 2)))));  // a request
  auto bad = reply;
  bad[9] ^= 0x01;  // payload changed, checksum not
  EXPECT_FALSE(parse_echo_reply(ipv4(bad)));
  auto unreachable = reply;
  unreachable[0] = 3;
  EXPECT_FALSE(parse_echo_reply(ipv4(unreachable)));
  EXPECT_FALSE(parse_echo_reply(ipv4(reply, 6)));          // not ICMP
  EXPECT_FALSE(parse_echo_reply(ipv4(reply, 1, 0x2000)));  // more fragments
  EXPECT_FALSE(parse_echo_reply(ipv4(reply, 1, 0x0001)));  // a later fragment
  auto whole = ipv4(reply);
  EXPECT_FALSE(parse_echo_reply(Bytes(whole.begin(), whole.end() - 1)));  // truncated
  EXPECT_FALSE(parse_echo_reply(Bytes(whole.begin(), whole.begin() + 24)));
  auto v6 = whole;
  v6[0] = 0x65;
  EXPECT_FALSE(parse_echo_reply(v6));
  EXPECT_FALSE(parse_echo_reply(Bytes{}));
}

}  // namespace
}  // namespace vmgw::backend::probe_packets
