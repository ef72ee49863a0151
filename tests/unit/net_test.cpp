// Value types of model/net.h: strict parsing, formatting and the small predicates.

#include "model/net.h"

#include <gtest/gtest.h>

namespace vmgw {
namespace {

TEST(Ipv4, ParsesDottedQuad) {
  auto a = Ipv4::parse("10.0.0.1");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->value, 0x0A000001U);
  EXPECT_EQ(a->str(), "10.0.0.1");
  EXPECT_EQ(Ipv4::parse("0.0.0.0")->value, 0U);
  EXPECT_EQ(Ipv4::parse("255.255.255.255")->value, 0xFFFFFFFFU);
}

TEST(Ipv4, RejectsMalformed) {
  for (const char* bad :
       {"", "10.0.0", "10.0.0.1.2", "10.0.0.300", "10.0.0.01", "10.0.0.-1", "10.0..1", "a.b.c.d",
        " 10.0.0.1", "10.0.0.1 ", "10.0.0.1/24", "0x0a.0.0.1", "10.0.0."}) {
    EXPECT_FALSE(Ipv4::parse(bad)) << bad;
  }
}

TEST(Ipv4, Orders) {
  EXPECT_LT(*Ipv4::parse("10.0.0.2"), *Ipv4::parse("10.0.0.10"));
  EXPECT_EQ(*Ipv4::parse("1.2.3.4"), *Ipv4::parse("1.2.3.4"));
}

TEST(InterfaceAddress, AllowsHostBits) {
  auto a = InterfaceAddress::parse("203.0.113.2/24");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->address.str(), "203.0.113.2");
  EXPECT_EQ(a->prefix, 24);
  EXPECT_EQ(a->str(), "203.0.113.2/24");
  EXPECT_EQ(InterfaceAddress::parse("10.0.0.1/32")->prefix, 32);
  EXPECT_EQ(InterfaceAddress::parse("10.0.0.1/0")->prefix, 0);
}

TEST(InterfaceAddress, RejectsMalformed) {
  for (const char* bad : {"203.0.113.2", "203.0.113.2/", "203.0.113.2/33", "203.0.113.2/024",
                          "203.0.113.300/24", "/24", "203.0.113.2/24/1", "203.0.113.2/x"}) {
    EXPECT_FALSE(InterfaceAddress::parse(bad)) << bad;
  }
}

TEST(Cidr, ParsesNetworks) {
  auto c = Cidr::parse("10.0.0.0/24");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->str(), "10.0.0.0/24");
  EXPECT_EQ(c->mask(), 0xFFFFFF00U);
  EXPECT_EQ(c->first().str(), "10.0.0.0");
  EXPECT_EQ(c->last().str(), "10.0.0.255");
  auto all = Cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_EQ(all->mask(), 0U);
  EXPECT_EQ(all->last().str(), "255.255.255.255");
  EXPECT_EQ(Cidr::parse("10.0.0.7/32")->last().str(), "10.0.0.7");
}

TEST(Cidr, RejectsHostBitsAndMalformed) {
  for (const char* bad : {"10.0.0.1/24", "10.0.0.0", "10.0.0.0/33", "10.0.0.0/", "10.0.0/24",
                          "10.0.0.0/-1", "10.0.0.0/ 24"}) {
    EXPECT_FALSE(Cidr::parse(bad)) << bad;
  }
}

TEST(Cidr, ContainsAndOverlaps) {
  auto c = *Cidr::parse("10.0.0.0/24");
  EXPECT_TRUE(c.contains(*Ipv4::parse("10.0.0.0")));
  EXPECT_TRUE(c.contains(*Ipv4::parse("10.0.0.255")));
  EXPECT_FALSE(c.contains(*Ipv4::parse("10.0.1.0")));
  EXPECT_TRUE(c.overlaps(*Cidr::parse("10.0.0.0/16")));
  EXPECT_TRUE(Cidr::parse("10.0.0.0/16")->overlaps(c));
  EXPECT_TRUE(c.overlaps(*Cidr::parse("10.0.0.128/25")));
  EXPECT_FALSE(c.overlaps(*Cidr::parse("10.0.1.0/24")));
}

TEST(Mac, ParsesBothSeparatorsAndCases) {
  auto m = Mac::parse("52:54:00:AB:cd:0f");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->str(), "52:54:00:ab:cd:0f");
  EXPECT_EQ(Mac::parse("52-54-00-ab-cd-0f"), m);
  EXPECT_FALSE(m->is_multicast());
  EXPECT_FALSE(m->is_zero());
  EXPECT_TRUE(Mac::parse("01:00:5e:00:00:01")->is_multicast());
  EXPECT_TRUE(Mac::parse("ff:ff:ff:ff:ff:ff")->is_multicast());
  EXPECT_TRUE(Mac::parse("00:00:00:00:00:00")->is_zero());
}

TEST(Mac, RejectsMalformed) {
  for (const char* bad :
       {"", "52:54:00:zz:00:01", "52:54:00:00:00", "52:54:00:00:00:01:02", "52:54-00:00:00:01",
        "5254.0000.0001", "52:54:00:00:00:1", "525400000001", "52:54:00:00:00:01 "}) {
    EXPECT_FALSE(Mac::parse(bad)) << bad;
  }
}

TEST(Proto, ParsesTcpAndUdpOnly) {
  EXPECT_EQ(parse_proto("tcp"), Proto::tcp);
  EXPECT_EQ(parse_proto("udp"), Proto::udp);
  EXPECT_FALSE(parse_proto("TCP"));
  EXPECT_FALSE(parse_proto("icmp"));
  EXPECT_FALSE(parse_proto(""));
  EXPECT_EQ(to_string(Proto::tcp), "tcp");
  EXPECT_EQ(to_string(Proto::udp), "udp");
}

TEST(PortRange, ParsesSingleAndRange) {
  auto p = PortRange::parse("80");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->first, 80U);
  EXPECT_EQ(p->last, 80U);
  EXPECT_EQ(p->size(), 1U);
  EXPECT_EQ(p->str(), "80");
  auto r = PortRange::parse("8000-8010");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->size(), 11U);
  EXPECT_EQ(r->str(), "8000-8010");
  EXPECT_TRUE(r->overlaps(*PortRange::parse("8010-9000")));
  EXPECT_FALSE(r->overlaps(*PortRange::parse("8011")));
}

TEST(PortRange, LeavesRangeChecksToTheValidator) {
  EXPECT_EQ(PortRange::parse("0")->first, 0U);
  EXPECT_EQ(PortRange::parse("70000")->first, 70000U);
  auto reversed = PortRange::parse("90-80");
  ASSERT_TRUE(reversed);
  EXPECT_EQ(reversed->size(), 0U);
}

TEST(PortRange, RejectsNonNumbers) {
  for (const char* bad :
       {"", "http", "80-", "-80", "80-90-100", "080", "8o", " 80", "80 - 90", "+80"}) {
    EXPECT_FALSE(PortRange::parse(bad)) << bad;
  }
}

TEST(DeviceName, AcceptsKernelSafeNames) {
  for (const char* good : {"eth0", "br-vm", "wan0.100", "vnet_web", "a", "abcdefghijklmno"}) {
    EXPECT_TRUE(is_valid_device_name(good)) << good;
  }
}

TEST(DeviceName, RejectsOthers) {
  for (const char* bad :
       {"", ".", "..", "abcdefghijklmnop", "eth 0", "eth/0", "eth:0", "ëth0", "eth0\n"}) {
    EXPECT_FALSE(is_valid_device_name(bad)) << bad;
  }
}

TEST(ObjectName, AcceptsLowerCaseNames) {
  for (const char* good :
       {"web", "db-1", "isp_1", "0net", "a", "abcdefghijklmnopqrstuvwxyz012345"}) {
    EXPECT_TRUE(is_valid_object_name(good)) << good;
  }
}

TEST(ObjectName, RejectsOthers) {
  for (const char* bad :
       {"", "Web", "-web", "_web", "web.1", "web 1", "wéb", "abcdefghijklmnopqrstuvwxyz0123456"}) {
    EXPECT_FALSE(is_valid_object_name(bad)) << bad;
  }
}

}  // namespace
}  // namespace vmgw
