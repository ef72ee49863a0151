#include "backend/probe_packets.h"

#include <algorithm>

namespace vmgw::backend::probe_packets {
namespace {

constexpr uint8_t kEchoReply = 0;
constexpr uint8_t kEchoRequest = 8;
constexpr uint8_t kProtoIcmp = 1;
constexpr uint8_t kMagic[] = {'v', 'm', 'g', 'w'};

void put(std::vector<uint8_t>& out, uint64_t v, int bytes) {
  for (int shift = (bytes - 1) * 8; shift >= 0; shift -= 8)
    out.push_back(static_cast<uint8_t>((v >> shift) & 0xffU));
}

uint64_t get(std::span<const uint8_t> b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = (v << 8) | b[at + static_cast<size_t>(i)];
  return v;
}

}  // namespace

std::vector<uint8_t> payload(uint64_t cookie, uint32_t round) {
  std::vector<uint8_t> out;
  out.reserve(16);
  put(out, cookie, 8);
  put(out, round, 4);
  out.insert(out.end(), std::begin(kMagic), std::end(kMagic));
  return out;
}

std::optional<ProbeId> parse_payload(std::span<const uint8_t> b) {
  if (b.size() != 16 || !std::equal(std::begin(kMagic), std::end(kMagic), b.begin() + 12))
    return std::nullopt;
  return ProbeId{get(b, 0, 8), static_cast<uint32_t>(get(b, 8, 4))};
}

uint16_t internet_checksum(std::span<const uint8_t> b) {
  uint32_t sum = 0;
  for (size_t i = 0; i + 1 < b.size(); i += 2) sum += static_cast<uint32_t>(b[i] << 8 | b[i + 1]);
  if (b.size() % 2 != 0) sum += static_cast<uint32_t>(b.back() << 8);
  while (sum >> 16) sum = (sum & 0xffffU) + (sum >> 16);
  return static_cast<uint16_t>(~sum & 0xffffU);
}

std::vector<uint8_t> echo_request(uint16_t id, uint16_t sequence, std::span<const uint8_t> data) {
  std::vector<uint8_t> out{kEchoRequest, 0, 0, 0};
  put(out, id, 2);
  put(out, sequence, 2);
  out.insert(out.end(), data.begin(), data.end());
  uint16_t sum = internet_checksum(out);
  out[2] = static_cast<uint8_t>(sum >> 8);
  out[3] = static_cast<uint8_t>(sum & 0xffU);
  return out;
}

std::optional<EchoReply> parse_echo_reply(std::span<const uint8_t> p) {
  if (p.size() < 20 || (p[0] >> 4) != 4) return std::nullopt;
  size_t ihl = size_t{p[0] & 0x0fU} * 4;
  size_t total = get(p, 2, 2);
  if (ihl < 20 || total < ihl + 8 || total > p.size() || p[9] != kProtoIcmp) return std::nullopt;
  if ((get(p, 6, 2) & 0x3fffU) != 0) return std::nullopt;  // a fragment (MF or an offset)
  auto icmp = p.subspan(ihl, total - ihl);
  if (icmp[0] != kEchoReply || icmp[1] != 0 || internet_checksum(icmp) != 0) return std::nullopt;
  EchoReply r;
  r.source = Ipv4{static_cast<uint32_t>(get(p, 12, 4))};
  r.id = static_cast<uint16_t>(get(icmp, 4, 2));
  r.sequence = static_cast<uint16_t>(get(icmp, 6, 2));
  r.data.assign(icmp.begin() + 8, icmp.end());
  return r;
}

}  // namespace vmgw::backend::probe_packets
