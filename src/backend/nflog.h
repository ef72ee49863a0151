// Packets logged by nftables `log group N prefix "..."` statements, received over NFLOG
// (nfnetlink_log). The decoders are pure, so unit tests feed them hand-built messages; only
// open_nflog() touches the kernel, in the calling process's network namespace.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "model/net.h"

namespace vmgw::backend {

struct LoggedPacket {
  int64_t time_ns = 0;  // NFULA_TIMESTAMP if present, else CLOCK_REALTIME when read (see below)
  std::string prefix;   // NFULA_PREFIX
  uint32_t indev = 0, outdev = 0, physindev = 0, physoutdev = 0;  // ifindexes, 0 if absent
  std::optional<Mac> src_mac;    // NFULA_HWADDR, else the source of an Ethernet NFULA_HWHEADER
  std::vector<uint8_t> payload;  // NFULA_PAYLOAD: network header onwards, cut at the copy range
  uint16_t hw_protocol = 0;      // NFULA_PACKET_HDR EtherType (host order)
};

// Decodes one NFULNL_MSG_PACKET message (the bytes of one nlmsghdr, any alignment). nullopt if
// it is not one or is malformed. time_ns stays 0 without NFULA_TIMESTAMP (the kernel only sends
// it for packets that carry a receive timestamp); NflogSource::read_ready() fills in the time.
std::optional<LoggedPacket> decode_nflog_message(std::span<const uint8_t> nlmsg);

// The flow of an IPv4/IPv6 payload. proto is "tcp", "udp", "icmp", "icmpv6" or the protocol
// number in decimal; addresses are text. Ports are 0 for protocols without them, for non-first
// fragments and when the copy range cut the transport header off.
struct FiveTuple {
  std::string proto;
  std::string src, dst;
  uint16_t sport = 0, dport = 0;
  std::optional<uint8_t> icmp_type;  // ICMP / ICMPv6 type, if the header is there
  bool operator==(const FiveTuple&) const = default;
};

// nullopt if the payload is not IPv4/IPv6 or its IP header is truncated; a truncated transport
// header only leaves the ports (or ICMP type) unset.
std::optional<FiveTuple> five_tuple(std::span<const uint8_t> payload);

// One NFLOG group, bound in the calling process's network namespace. Not thread-safe.
class NflogSource {
 public:
  virtual ~NflogSource() = default;
  virtual int fd() const = 0;  // for poll(): readable when read_ready() has something
  // Non-blocking: every packet available now (at most a bounded batch, so a flood cannot starve
  // the caller's loop; poll() says when more is left). Throws std::runtime_error on socket
  // errors other than an overrun.
  virtual std::vector<LoggedPacket> read_ready() = 0;
  // How many times the socket overran (ENOBUFS): packets were lost, the kernel does not say how
  // many. Reading goes on after an overrun.
  virtual uint64_t overruns() const = 0;
};

// Binds NFLOG group `group` (copying the first 128 bytes of each packet). Throws
// std::runtime_error naming the group and the reason, e.g. when another process holds it.
std::unique_ptr<NflogSource> open_nflog(uint16_t group);

}  // namespace vmgw::backend
