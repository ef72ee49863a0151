// The kernel's nftables, behind an interface: the real one drives libnftables with JSON, the
// fake applies batches to an in-memory table with the kernel's all-or-nothing semantics.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

#include "nft/table.h"

namespace vmgw::backend {

// The kernel (or libnftables) refused a batch; nothing of it was applied.
struct NftError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class NftBackend {
 public:
  virtual ~NftBackend() = default;
  // The table as the kernel holds it now, or nullopt if it does not exist.
  virtual std::optional<nft::Table> read_table(const std::string& family,
                                               const std::string& name) = 0;
  // Applies one batch as one transaction: all of it or nothing. Throws NftError on refusal.
  virtual void apply(const nft::Json& batch) = 0;
  // The table in nft text with counters (what `nft list table` prints); empty if absent.
  virtual std::string list_text(const std::string& family, const std::string& name) = 0;
};

// libnftables in the calling process's network namespace.
std::unique_ptr<NftBackend> make_libnftables_backend();

}  // namespace vmgw::backend
