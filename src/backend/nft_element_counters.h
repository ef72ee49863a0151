// The counters of chosen elements of one set, read from the kernel with one nfnetlink dump of
// that set (NFT_MSG_GETSETELEM), the elements found by their key's bytes. libnftables lists one
// set in about 0.1 s at 10 000 VMs (its cache holds every set of the table first), and
// `vmgw filter stats` reads several: 2-3 s with vmgwd's one thread held.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "backend/nft_dump.h"
#include "nft/table.h"

namespace vmgw::backend {

// A key as the kernel holds it: `type` is the set's (one type name, or a list for a
// concatenation, each field then padded to 4 bytes), `key` an element's key as vmgw writes it
// (a value, or {"concat": [...]}). nullopt for a type vmgw does not encode here (ipv4_addr,
// ipv6_addr, ether_addr, inet_service, inet_proto, ifname, mark are) or a value that does not
// fit its type.
std::optional<std::vector<uint8_t>> encode_set_key(const nft::Json& type, const nft::Json& key);

struct DumpedElement {
  std::vector<uint8_t> key;
  uint64_t packets = 0, bytes = 0;  // its counter (0 without one)
};
// The elements of one NFT_MSG_NEWSETELEM message (a dump's answer); none when it is not one.
std::vector<DumpedElement> decode_set_elements(std::span<const uint8_t> message);

class ElementCounterReader {
 public:
  // Every element of the set, with its counter; none when the set does not exist.
  std::vector<DumpedElement> read(const std::string& family, const std::string& table,
                                  const std::string& set);

 private:
  NftDump dump_;
};

}  // namespace vmgw::backend
