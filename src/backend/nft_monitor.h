// Notices when another program changes nftables in this network namespace (for self-healing):
// every nftables transaction ends with a NEWGEN event naming the process that made it, so
// vmgw's own transactions are told apart from everyone else's without comparing rulesets.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace vmgw::backend {

struct NftChanger {
  uint32_t pid = 0;
  std::string name;  // the process's name as the kernel reports it ("nft", "iptables-nft")
  bool operator==(const NftChanger&) const = default;
};

// Decodes one netlink message; a NEWGEN event gives who committed it, anything else nullopt.
std::optional<NftChanger> decode_nft_generation(std::span<const uint8_t> nlmsg);

class NftMonitor {
 public:
  virtual ~NftMonitor() = default;
  virtual int fd() const = 0;  // for poll()
  // The transactions committed since the last call by processes other than `self_pid`. A
  // receive overrun (events lost) is reported as one change by an unknown process.
  virtual std::vector<NftChanger> foreign_changes(uint32_t self_pid) = 0;
};

// Subscribes to the nftables event group in the calling process's network namespace. Throws
// std::runtime_error with the reason.
std::unique_ptr<NftMonitor> open_nft_monitor();

}  // namespace vmgw::backend
