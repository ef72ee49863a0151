// Set keys encoded as the kernel holds them (the reader itself runs against the kernel in
// tests/kernel/nft_rule_counters_kernel_test.cpp, which compares it with libnftables' listing).
#include "backend/nft_element_counters.h"

#include <gtest/gtest.h>

#include <vector>

namespace vmgw::backend {
namespace {

using Bytes = std::vector<uint8_t>;
using nft::Json;

TEST(NftElementKeys, SingleFieldsTakeTheirOwnSize) {
  EXPECT_EQ(encode_set_key("ipv4_addr", "10.0.1.2"), (Bytes{10, 0, 1, 2}));
  EXPECT_EQ(encode_set_key("inet_service", 443), (Bytes{0x01, 0xbb}));
  EXPECT_EQ(encode_set_key("ether_addr", "52:54:00:ab:cd:ef"),
            (Bytes{0x52, 0x54, 0x00, 0xab, 0xcd, 0xef}));
  EXPECT_EQ(encode_set_key("inet_proto", 6), (Bytes{6}));
  auto name = encode_set_key("ifname", "vnet5");
  ASSERT_TRUE(name);
  ASSERT_EQ(name->size(), 16u);
  EXPECT_EQ((*name)[0], 'v');
  EXPECT_EQ((*name)[4], '5');
  EXPECT_EQ((*name)[5], 0);
  EXPECT_EQ((*name)[15], 0);
  auto v6 = encode_set_key("ipv6_addr", "2001:db8::1");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->size(), 16u);
  EXPECT_EQ((*v6)[15], 1);
}

TEST(NftElementKeys, ConcatenationsPadEachFieldToWholeRegisters) {
  Json type = {"ifname", "ether_addr", "inet_service", "ipv4_addr"};
  Json key = {{"concat", {"vnet5", "52:54:00:00:00:0a", 22, "10.0.0.5"}}};
  auto k = encode_set_key(type, key);
  ASSERT_TRUE(k);
  ASSERT_EQ(k->size(), 16u + 8u + 4u + 4u);
  EXPECT_EQ((*k)[16], 0x52);
  EXPECT_EQ((*k)[21], 0x0a);
  EXPECT_EQ((*k)[22], 0) << "the MAC's 6 bytes padded to 8";
  EXPECT_EQ((*k)[23], 0);
  EXPECT_EQ((*k)[24], 0);
  EXPECT_EQ((*k)[25], 22) << "the port big-endian, then 2 bytes of padding";
  EXPECT_EQ((*k)[26], 0);
  EXPECT_EQ((Bytes{k->begin() + 28, k->end()}), (Bytes{10, 0, 0, 5}));
}

TEST(NftElementKeys, WhatCannotBeEncodedIsNone) {
  EXPECT_FALSE(encode_set_key("ipv4_addr", "10.0.0.256"));
  EXPECT_FALSE(encode_set_key("ipv4_addr", 5));
  EXPECT_FALSE(encode_set_key("inet_service", 65536));
  EXPECT_FALSE(encode_set_key("inet_service", "80"));
  EXPECT_FALSE(encode_set_key("ether_addr", "52:54:00:00:00"));
  EXPECT_FALSE(encode_set_key("ifname", "a-name-of-16-chr"));
  EXPECT_FALSE(encode_set_key("ct_state", "established"));  // not a type vmgw hoists
  Json type = {"ifname", "ipv4_addr"};
  EXPECT_FALSE(encode_set_key(type, Json{{"concat", {"vnet5"}}})) << "a field short";
  EXPECT_FALSE(encode_set_key(type, "vnet5")) << "not a concatenation";
  EXPECT_FALSE(encode_set_key(type, Json{{"concat", {"vnet5", "nope"}}}));
}

}  // namespace
}  // namespace vmgw::backend
