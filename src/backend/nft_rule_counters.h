// The counters of one chain's rules, read from the kernel with one nfnetlink dump of that chain
// (NFT_MSG_GETRULE with the table and the chain named), not through libnftables: nftables 1.0.6
// fills its cache with every set element of the table before it lists even one chain, which at
// 10 000 VMs made a read of one counter take 0.6 s (measured: `nft list chain` of a two-rule
// chain beside 203 000 elements) and /metrics 0.9 s, with vmgwd's one thread held meanwhile.
#pragma once

#include <cstdint>

#include <optional>
#include <span>
#include <string>
#include <vector>
#include "backend/nft_dump.h"

namespace vmgw::backend {

// One rule as far as its counters go: its comment, the sum of its counter expressions
// (`has_counter` false when it has none), the chains it jumps or goes to, and the sets it looks
// packets up in (whose elements may have counters of their own).
struct RuleCounter {
  std::string comment;
  bool has_counter = false;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  std::vector<std::string> jumps;    // in order; `jump` and `goto` alike
  std::vector<std::string> lookups;  // set names, in order
  bool operator==(const RuleCounter&) const = default;
};

// The rule of one NFT_MSG_NEWRULE message (a dump's answer), or nullopt when `message` is not a
// well-formed one.
std::optional<RuleCounter> decode_rule_counter(std::span<const uint8_t> message);

// Reads chains of the calling process's network namespace, on one netlink socket kept open.
class RuleCounterReader {
 public:
  // The chain's rules in order; none when the table or the chain does not exist (a dump filters,
  // it does not look up: the kernel answers an absent chain with no rules, not ENOENT). `family`
  // is "inet", "ip", "ip6", "bridge", "arp" or "netdev". Throws std::runtime_error otherwise.
  std::vector<RuleCounter> read(const std::string& family, const std::string& table,
                                const std::string& chain);

 private:
  NftDump dump_;
};

}  // namespace vmgw::backend
