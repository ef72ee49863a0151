// Reading nftables objects straight from the kernel: one nfnetlink dump request on a socket kept
// open, its answers handed over one message at a time. For reads that libnftables makes costly:
// nftables 1.0.6 fills its cache with every set element of a table before it lists anything,
// which at 10 000 VMs is about a second for any listing (nft_rule_counters.h,
// nft_element_counters.h).
#pragma once

#include <libmnl/libmnl.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vmgw::backend {

// NFPROTO_* of "inet", "ip", "ip6", "bridge", "arp" or "netdev"; throws std::runtime_error.
uint8_t nft_family_number(const std::string& family);

// Calls fn(attribute) for each attribute in [from, to): C++ cannot use libmnl's iteration macros
// (they assign a void*).
template <class Fn>
void each_attr(const void* from, const void* to, Fn&& fn) {
  const char* end = static_cast<const char*>(to);
  for (const auto* a = static_cast<const nlattr*>(from);
       mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a))
    fn(a);
}

template <class Fn>
void each_nested(const nlattr* parent, Fn&& fn) {
  const char* payload = static_cast<const char*>(mnl_attr_get_payload(parent));
  each_attr(payload, payload + mnl_attr_get_payload_len(parent), fn);
}

// A copy of the message if it is a well-formed nftables message (the caller's bytes need not be
// aligned for nlmsghdr); the caller checks its type.
std::optional<std::vector<uint8_t>> nftables_message(std::span<const uint8_t> bytes);

// A counter expression's NFTA_EXPR_DATA: its packets and bytes added to `packets` and `bytes`.
void add_counter_data(const nlattr* data, uint64_t& packets, uint64_t& bytes);

class NftDump {
 public:
  NftDump();
  ~NftDump();
  NftDump(const NftDump&) = delete;
  NftDump& operator=(const NftDump&) = delete;
  // Sends NFT_MSG_<type> with NLM_F_DUMP for `family`, with the attributes `put` adds, and hands
  // each answer to `each`, until the dump ends. A dump the ruleset's change interrupted is asked
  // again (`each` must then start over: `restart` is called first). ENOENT (older kernels, an
  // absent table) is an empty answer. `what` names the read in errors (std::runtime_error).
  void run(const std::string& what, uint16_t type, const std::string& family,
           const std::function<void(nlmsghdr*)>& put, const std::function<void()>& restart,
           const std::function<void(const nlmsghdr*)>& each);

 private:
  struct Socket;
  std::unique_ptr<Socket> socket_;
};

}  // namespace vmgw::backend
