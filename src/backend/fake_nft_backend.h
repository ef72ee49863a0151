// In-memory NftBackend for unit tests. Applies a batch to a copy of its state and keeps the
// copy only if every command succeeded, like the kernel; refuses what the kernel refuses for
// vmgw's vocabulary (missing objects, jumps to missing chains, references to missing sets).
#pragma once

#include <vector>

#include "backend/nft_backend.h"

namespace vmgw::backend {

class FakeNftBackend : public NftBackend {
 public:
  std::optional<nft::Table> read_table(const std::string& family, const std::string& name) override;
  void apply(const nft::Json& batch) override;
  std::string list_text(const std::string& family, const std::string& name) override;

  int batches_applied = 0;          // successful apply() calls: "writes to the kernel"
  std::vector<nft::Json> batches;   // every successful batch, in order
  std::string fail_next_with;       // if set, the next apply() throws this and changes nothing,
  size_t fail_next_at = 0;          // naming this command of the batch (clamped) as the culprit
  std::optional<nft::Table> table;  // the state: inet vmgw
  std::optional<nft::Table> bridge_table;  // and bridge vmgw (per-VM layer-2 filters)
};

}  // namespace vmgw::backend
