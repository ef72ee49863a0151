// The kernel's nftables, behind an interface: the real one drives libnftables with JSON, the
// fake applies batches to an in-memory table with the kernel's all-or-nothing semantics.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "backend/nft_element_counters.h"
#include "backend/nft_rule_counters.h"
#include "nft/table.h"

namespace vmgw::backend {

// The kernel (or libnftables) refused a batch; nothing of it was applied. `culprit` names the
// first command of the batch the kernel refuses ("add element 10.10.0.3 to set inet vmgw
// vm_flows"), or is empty when it could not be found; `reason` is what the kernel said.
struct NftError : std::runtime_error {
  explicit NftError(const std::string& kernel_reason, std::string refused_command = "")
      : std::runtime_error(refused_command.empty() ? kernel_reason
                                                   : refused_command + ": " + kernel_reason),
        culprit(std::move(refused_command)),
        reason(kernel_reason) {}
  std::string culprit;
  std::string reason;
};

class NftBackend {
 public:
  virtual ~NftBackend() = default;
  // The table as the kernel holds it now, or nullopt if it does not exist.
  virtual std::optional<nft::Table> read_table(const std::string& family,
                                               const std::string& name) = 0;
  // Applies one batch as one transaction: all of it or nothing. Throws NftError on refusal,
  // naming the command refused.
  virtual void apply(const nft::Json& batch) = 0;
  // The table in nft text with counters (what `nft list table` prints); empty if absent.
  virtual std::string list_text(const std::string& family, const std::string& name) = 0;
  // The counters of one chain's rules as the kernel holds them now; none if the table or the
  // chain is absent. The real backend dumps that chain alone (nft_rule_counters.h: reading a
  // counter must not cost a listing of every VM's elements); this default reads the whole table.
  virtual std::vector<RuleCounter> rule_counters(const std::string& family,
                                                 const std::string& table,
                                                 const std::string& chain);
  // One set (or map) with its elements and their counters; nullopt if absent. The real backend
  // lists that set alone (about 0.1 s for 10 000 elements beside 200 000 others, against 1 s for
  // the table); this default reads the whole table.
  virtual std::optional<nft::Set> read_set(const std::string& family, const std::string& table,
                                           const std::string& set);
  // The sum of the counters of `elements` in the set `declared` names (its declaration gives
  // the key's type). The real backend dumps that set's elements over netlink and finds them by
  // their key's bytes (nft_element_counters.h); this default reads the set.
  struct Counts {
    uint64_t packets = 0, bytes = 0;
  };
  virtual Counts element_counts(const std::string& family, const std::string& table,
                                const nft::Set& declared,
                                const std::vector<nft::Element>& elements);
};

// libnftables in the calling process's network namespace.
std::unique_ptr<NftBackend> make_libnftables_backend();

}  // namespace vmgw::backend
