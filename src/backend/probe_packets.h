// The bytes of ICMP echo probes, built and checked by pure functions (unit-tested byte by byte)
// apart from the sockets that send and receive them (socket_prober.cpp).
//
// A probe's payload names its sender and its round: a 64-bit cookie, random per prober, and the
// 32-bit round number, so a reply is only taken for ours even if another program on the host
// pings with the same echo id.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "model/net.h"

namespace vmgw::backend::probe_packets {

// The 16-byte payload: cookie (8 bytes, big-endian), round (4 bytes, big-endian), "vmgw".
std::vector<uint8_t> payload(uint64_t cookie, uint32_t round);

struct ProbeId {
  uint64_t cookie = 0;
  uint32_t round = 0;
  bool operator==(const ProbeId&) const = default;
};

// Reads a payload built by payload(); nullopt if it is not one.
std::optional<ProbeId> parse_payload(std::span<const uint8_t> bytes);

// The RFC 1071 Internet checksum of `bytes` (an odd last byte is padded with zero).
uint16_t internet_checksum(std::span<const uint8_t> bytes);

// An ICMP echo request (type 8, code 0) with its checksum: the ICMP header and `data`, what a
// raw IPPROTO_ICMP socket sends (the kernel adds the IP header).
std::vector<uint8_t> echo_request(uint16_t id, uint16_t sequence, std::span<const uint8_t> data);

struct EchoReply {
  Ipv4 source;  // of the IP header: who answered
  uint16_t id = 0, sequence = 0;
  std::vector<uint8_t> data;
  bool operator==(const EchoReply&) const = default;
};

// An IPv4 packet as a raw ICMP socket receives it (IP header included) -> the echo reply it
// carries. nullopt unless it is an unfragmented IPv4 ICMP echo reply (type 0, code 0) with a
// correct ICMP checksum.
std::optional<EchoReply> parse_echo_reply(std::span<const uint8_t> packet);

}  // namespace vmgw::backend::probe_packets
