// NFLOG decoding, flow extraction, vmgw's log prefixes and the log book, without a kernel: the
// netlink messages are built here with libmnl as the kernel would send them.
#include <arpa/inet.h>
#include <endian.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/if_arp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <vector>

#include "backend/nflog.h"
#include "daemon/log_book.h"

namespace vmgw {
namespace {

using backend::decode_nflog_message;
using backend::five_tuple;
using backend::FiveTuple;
using daemon::LogBook;
using daemon::LogEntry;
using daemon::parse_prefix;
using daemon::Prefix;
using Bytes = std::vector<uint8_t>;

// IPv4 header (20 bytes, no options) + `l4`. `frag` is the flags/fragment-offset field.
Bytes ipv4(uint8_t proto, const Bytes& l4, uint16_t frag = 0x4000) {
  Bytes b{0x45,
          0,
          0,
          0,
          0,
          1,
          static_cast<uint8_t>(frag >> 8),
          static_cast<uint8_t>(frag & 0xff),
          64,
          proto,
          0,
          0,
          10,
          0,
          0,
          9,
          192,
          0,
          2,
          10};
  b.insert(b.end(), l4.begin(), l4.end());
  return b;
}

// IPv6 header 2001:db8::1 -> 2001:db8::2 + `rest`.
Bytes ipv6(uint8_t next, const Bytes& rest) {
  Bytes b{0x60, 0, 0, 0, 0, static_cast<uint8_t>(rest.size()), next, 64};
  for (uint8_t last : {uint8_t{1}, uint8_t{2}}) {
    Bytes a{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, last};
    b.insert(b.end(), a.begin(), a.end());
  }
  b.insert(b.end(), rest.begin(), rest.end());
  return b;
}

const Bytes kTcpPorts{0xa0, 0x28, 0x01, 0xbb, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0, 0, 0, 0, 0, 0};

TEST(NflogFiveTuple, Ipv4Tcp) {
  EXPECT_EQ(five_tuple(ipv4(IPPROTO_TCP, kTcpPorts)),
            (FiveTuple{"tcp", "10.0.0.9", "192.0.2.10", 41000, 443, std::nullopt}));
}

TEST(NflogFiveTuple, Ipv4Udp) {
  EXPECT_EQ(five_tuple(ipv4(IPPROTO_UDP, {0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0})),
            (FiveTuple{"udp", "10.0.0.9", "192.0.2.10", 12345, 53, std::nullopt}));
}

TEST(NflogFiveTuple, Ipv4IcmpHasTypeNoPorts) {
  EXPECT_EQ(five_tuple(ipv4(IPPROTO_ICMP, {8, 0, 0, 0, 0, 1, 0, 1})),
            (FiveTuple{"icmp", "10.0.0.9", "192.0.2.10", 0, 0, 8}));
}

TEST(NflogFiveTuple, OtherProtocolIsANumber) {
  EXPECT_EQ(five_tuple(ipv4(47, {0, 0, 0x08, 0x00}))->proto, "47");
}

TEST(NflogFiveTuple, Ipv6Tcp) {
  EXPECT_EQ(five_tuple(ipv6(IPPROTO_TCP, kTcpPorts)),
            (FiveTuple{"tcp", "2001:db8::1", "2001:db8::2", 41000, 443, std::nullopt}));
}

TEST(NflogFiveTuple, Ipv6SkipsExtensionHeaders) {
  // Hop-by-hop options (8 bytes, next: UDP), then UDP.
  Bytes rest{IPPROTO_UDP, 0, 1, 4, 0, 0, 0, 0, 0x30, 0x39, 0x00, 0x35, 0, 8, 0, 0};
  EXPECT_EQ(five_tuple(ipv6(IPPROTO_HOPOPTS, rest)),
            (FiveTuple{"udp", "2001:db8::1", "2001:db8::2", 12345, 53, std::nullopt}));
}

TEST(NflogFiveTuple, Icmpv6) {
  EXPECT_EQ(five_tuple(ipv6(IPPROTO_ICMPV6, {128, 0, 0, 0}))->icmp_type, 128);
  EXPECT_EQ(five_tuple(ipv6(IPPROTO_ICMPV6, {128, 0, 0, 0}))->proto, "icmpv6");
}

TEST(NflogFiveTuple, NonFirstFragmentHasNoPorts) {
  auto t = five_tuple(ipv4(IPPROTO_UDP, {0x30, 0x39, 0x00, 0x35}, 0x0010));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->proto, "udp");
  EXPECT_EQ(t->sport, 0);
  EXPECT_EQ(t->dport, 0);
  // IPv6: fragment header with offset 8 (next: TCP).
  Bytes frag{IPPROTO_TCP, 0, 0, 0x40, 0, 0, 0, 1, 0xa0, 0x28, 0x01, 0xbb};
  auto t6 = five_tuple(ipv6(IPPROTO_FRAGMENT, frag));
  ASSERT_TRUE(t6);
  EXPECT_EQ(t6->proto, "tcp");
  EXPECT_EQ(t6->sport, 0);
}

TEST(NflogFiveTuple, TruncatedPayloadsAreSafe) {
  EXPECT_FALSE(five_tuple({}));
  Bytes v4 = ipv4(IPPROTO_TCP, kTcpPorts);
  EXPECT_FALSE(five_tuple(std::span(v4).first(19)));  // IP header cut
  // Transport header cut: addresses and protocol, no ports.
  EXPECT_EQ(five_tuple(std::span(v4).first(23)),
            (FiveTuple{"tcp", "10.0.0.9", "192.0.2.10", 0, 0, std::nullopt}));
  // A header length claiming options beyond the copy.
  Bytes options = v4;
  options[0] = 0x4f;
  EXPECT_EQ(five_tuple(std::span(options).first(30))->sport, 0);
  Bytes v6 = ipv6(IPPROTO_TCP, kTcpPorts);
  EXPECT_FALSE(five_tuple(std::span(v6).first(39)));
  EXPECT_EQ(five_tuple(std::span(v6).first(42))->sport, 0);
  // An extension header cut off in the middle.
  Bytes hop = ipv6(IPPROTO_HOPOPTS, {IPPROTO_UDP, 2, 0, 0, 0, 0, 0, 0, 0x30, 0x39, 0, 0x35});
  EXPECT_EQ(five_tuple(hop)->sport, 0);
  // Not IP at all (ARP over the bridge family) and a bogus header length.
  EXPECT_FALSE(five_tuple(Bytes{0x00, 0x01, 0x08, 0x00, 6, 4, 0, 1}));
  Bytes short_ihl = v4;
  short_ihl[0] = 0x44;
  EXPECT_FALSE(five_tuple(short_ihl));
}

// An NFULNL_MSG_PACKET message as the kernel builds it.
struct Message {
  alignas(nlmsghdr) std::array<uint8_t, 1024> buf{};
  nlmsghdr* nlh;

  Message(uint16_t type = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET) {
    nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = type;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = AF_INET;
    nfg->res_id = htons(7);
  }
  std::span<const uint8_t> bytes() const { return std::span(buf).first(nlh->nlmsg_len); }
};

TEST(NflogDecode, AllAttributes) {
  Message m;
  nfulnl_msg_packet_hdr hdr{htons(0x0800), 1, 0};
  mnl_attr_put(m.nlh, NFULA_PACKET_HDR, sizeof hdr, &hdr);
  nfulnl_msg_packet_timestamp ts{htobe64(1'795'315'201), htobe64(123'456)};
  mnl_attr_put(m.nlh, NFULA_TIMESTAMP, sizeof ts, &ts);
  mnl_attr_put_u32(m.nlh, NFULA_IFINDEX_INDEV, htonl(3));
  mnl_attr_put_u32(m.nlh, NFULA_IFINDEX_OUTDEV, htonl(4));
  mnl_attr_put_u32(m.nlh, NFULA_IFINDEX_PHYSINDEV, htonl(5));
  mnl_attr_put_u32(m.nlh, NFULA_IFINDEX_PHYSOUTDEV, htonl(6));
  nfulnl_msg_packet_hw hw{htons(6), 0, {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0, 0}};
  mnl_attr_put(m.nlh, NFULA_HWADDR, sizeof hw, &hw);
  mnl_attr_put_strz(m.nlh, NFULA_PREFIX, "vmgw drop out web rule 3");
  Bytes payload = ipv4(IPPROTO_TCP, kTcpPorts);
  mnl_attr_put(m.nlh, NFULA_PAYLOAD, payload.size(), payload.data());

  auto p = decode_nflog_message(m.bytes());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->time_ns, 1'795'315'201'123'456'000);
  EXPECT_EQ(p->prefix, "vmgw drop out web rule 3");
  EXPECT_EQ(p->indev, 3U);
  EXPECT_EQ(p->outdev, 4U);
  EXPECT_EQ(p->physindev, 5U);
  EXPECT_EQ(p->physoutdev, 6U);
  EXPECT_EQ(p->src_mac, Mac::parse("52:54:00:12:34:56"));
  EXPECT_EQ(p->hw_protocol, 0x0800);
  EXPECT_EQ(p->payload, payload);
}

TEST(NflogDecode, MinimalMessageAndEthernetHeaderMac) {
  Message m;
  mnl_attr_put_u16(m.nlh, NFULA_HWTYPE, htons(ARPHRD_ETHER));
  Bytes eth{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0, 0, 0, 0, 0x0b, 0x08, 0x00};
  mnl_attr_put(m.nlh, NFULA_HWHEADER, eth.size(), eth.data());
  auto p = decode_nflog_message(m.bytes());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->time_ns, 0);  // filled in by NflogSource when read
  EXPECT_EQ(p->prefix, "");
  EXPECT_EQ(p->indev, 0U);
  EXPECT_EQ(p->src_mac, Mac::parse("02:00:00:00:00:0b"));
  EXPECT_TRUE(p->payload.empty());
}

TEST(NflogDecode, UnalignedBytes) {
  Message m;
  mnl_attr_put_strz(m.nlh, NFULA_PREFIX, "x");
  Bytes shifted(1);
  shifted.insert(shifted.end(), m.bytes().begin(), m.bytes().end());
  auto p = decode_nflog_message(std::span(shifted).subspan(1));
  ASSERT_TRUE(p);
  EXPECT_EQ(p->prefix, "x");
}

TEST(NflogDecode, RejectsOtherAndMalformedMessages) {
  Message config((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG);
  EXPECT_FALSE(decode_nflog_message(config.bytes()));
  Message m;
  mnl_attr_put_strz(m.nlh, NFULA_PREFIX, "vmgw drop out r");
  EXPECT_FALSE(decode_nflog_message(m.bytes().first(m.bytes().size() - 1)));  // length lies
  EXPECT_FALSE(decode_nflog_message(m.bytes().first(10)));
  EXPECT_FALSE(decode_nflog_message({}));
  // An unterminated prefix stops at the attribute's end.
  Message u;
  mnl_attr_put(u.nlh, NFULA_PREFIX, 3, "abc");
  EXPECT_EQ(decode_nflog_message(u.bytes())->prefix, "abc");
}

TEST(NflogPrefix, Ours) {
  EXPECT_EQ(parse_prefix("vmgw drop out clean-traffic/no-ip-spoofing rule 3"),
            (Prefix{"drop", "out", "clean-traffic/no-ip-spoofing rule 3"}));
  EXPECT_EQ(parse_prefix("vmgw accept in r"), (Prefix{"accept", "in", "r"}));
  EXPECT_EQ(parse_prefix("vmgw reject - host input "), (Prefix{"reject", "", "host input"}));
  EXPECT_EQ(parse_prefix("vmgw log out"), (Prefix{"log", "out", ""}));
}

TEST(NflogPrefix, NotOurs) {
  EXPECT_FALSE(parse_prefix(""));
  EXPECT_FALSE(parse_prefix("vmgw"));
  EXPECT_FALSE(parse_prefix("vmgw drop"));
  EXPECT_FALSE(parse_prefix("vmgwx drop out r"));
  EXPECT_FALSE(parse_prefix("docker drop out r"));
  EXPECT_FALSE(parse_prefix("vmgw dropped out r"));
  EXPECT_FALSE(parse_prefix("vmgw drop sideways r"));
  EXPECT_FALSE(parse_prefix("IN=eth0 OUT= "));
}

LogEntry entry(const std::string& vm) {
  LogEntry e;
  e.vm = vm;
  return e;
}

std::vector<uint64_t> seqs(const std::vector<LogEntry>& v) {
  std::vector<uint64_t> out;
  for (const auto& e : v) out.push_back(e.seq);
  return out;
}

TEST(LogBook, AssignsSequenceNumbers) {
  LogBook book(10);
  EXPECT_EQ(book.last_seq(), 0U);
  EXPECT_EQ(book.add(entry("a")), 1U);
  EXPECT_EQ(book.add(entry("b")), 2U);
  EXPECT_EQ(book.last_seq(), 2U);
  EXPECT_EQ(seqs(book.since(0, "", 0)), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(seqs(book.since(1, "", 0)), (std::vector<uint64_t>{2}));
  EXPECT_TRUE(book.since(2, "", 0).empty());
  EXPECT_TRUE(book.since(99, "", 0).empty());
}

TEST(LogBook, ForgetsTheOldestBeyondCapacity) {
  LogBook book(3);
  for (int i = 0; i < 5; ++i) book.add(entry("a"));
  EXPECT_EQ(book.dropped(), 2U);
  EXPECT_EQ(book.last_seq(), 5U);
  EXPECT_EQ(seqs(book.since(0, "", 0)), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(seqs(book.since(3, "", 0)), (std::vector<uint64_t>{4, 5}));
}

TEST(LogBook, FiltersByVmAndLimits) {
  LogBook book;
  for (const char* vm : {"web", "db", "web", "db", "web"}) book.add(entry(vm));
  EXPECT_EQ(seqs(book.since(0, "web", 0)), (std::vector<uint64_t>{1, 3, 5}));
  EXPECT_EQ(seqs(book.since(1, "web", 1)), (std::vector<uint64_t>{3}));  // oldest first
  EXPECT_EQ(seqs(book.since(0, "", 2)), (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(book.since(0, "mail", 0).empty());
  EXPECT_EQ(seqs(book.latest("db", 1)), (std::vector<uint64_t>{4}));
  EXPECT_EQ(seqs(book.latest("", 3)), (std::vector<uint64_t>{3, 4, 5}));
  EXPECT_EQ(book.since(0, "db", 0)[0].vm, "db");
}

LogEntry sample() {
  LogEntry e;
  e.seq = 7;
  e.time_ns = 1'795'315'201'123'999'999;  // 2026-11-22T02:40:01.123Z
  e.vm = "web";
  e.direction = "out";
  e.verdict = "drop";
  e.rule = "clean-traffic/no-ip-spoofing rule 3";
  e.tuple = {"tcp", "10.0.0.9", "192.0.2.10", 41000, 443, std::nullopt};
  return e;
}

TEST(LogBook, FormatLine) {
  EXPECT_EQ(daemon::format_line(sample()),
            "2026-11-22T02:40:01.123Z vm=web out drop rule='clean-traffic/no-ip-spoofing rule 3' "
            "tcp 10.0.0.9:41000 -> 192.0.2.10:443");
  LogEntry e = sample();
  e.vm = "";
  e.direction = "";
  e.tuple = {"icmpv6", "2001:db8::1", "2001:db8::2", 0, 0, 128};
  EXPECT_EQ(daemon::format_line(e),
            "2026-11-22T02:40:01.123Z vm=- - drop rule='clean-traffic/no-ip-spoofing rule 3' "
            "icmpv6 2001:db8::1 -> 2001:db8::2 type 128");
  e.tuple = {"udp", "2001:db8::1", "2001:db8::2", 5353, 53, std::nullopt};
  EXPECT_NE(daemon::format_line(e).find("udp [2001:db8::1]:5353 -> [2001:db8::2]:53"),
            std::string::npos);
  e.tuple = {};
  EXPECT_TRUE(daemon::format_line(e).ends_with(" non-ip"));
}

TEST(LogBook, ToJson) {
  auto j = daemon::to_json(sample());
  EXPECT_EQ(j, (nlohmann::json{{"seq", 7},
                               {"time", "2026-11-22T02:40:01.123Z"},
                               {"vm", "web"},
                               {"direction", "out"},
                               {"verdict", "drop"},
                               {"rule", "clean-traffic/no-ip-spoofing rule 3"},
                               {"proto", "tcp"},
                               {"src", "10.0.0.9"},
                               {"dst", "192.0.2.10"},
                               {"sport", 41000},
                               {"dport", 443}}));
  LogEntry e = sample();
  e.tuple = {"icmp", "10.0.0.9", "192.0.2.10", 0, 0, 8};
  EXPECT_EQ(daemon::to_json(e)["icmp_type"], 8);
}

TEST(LogBook, FormatTime) {
  EXPECT_EQ(daemon::format_time(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(daemon::format_time(-1'000'000), "1969-12-31T23:59:59.999Z");
}

}  // namespace
}  // namespace vmgw
