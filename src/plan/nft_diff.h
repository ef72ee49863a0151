// diff(kernel table, desired table) -> the smallest batch that makes the kernel equal to the
// plan: element adds/deletes for data, flush-and-refill for chains whose rules changed. Pure.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "nft/table.h"

namespace vmgw {

struct NftChange {
  std::vector<nft::Json> commands;  // one libnftables batch = one kernel transaction
  bool created = false;             // the table did not exist
  bool rebuilt = false;             // a declaration changed: table replaced within the batch
  int sets_added = 0, sets_removed = 0;
  int chains_added = 0, chains_changed = 0, chains_removed = 0;
  int elements_added = 0, elements_removed = 0;

  bool empty() const { return commands.empty(); }
  // Appends another table's change: both go to the kernel in the same batch.
  NftChange& operator+=(const NftChange& o);
  NftChange& operator+=(NftChange&& o);
  // {"nftables": commands}
  nft::Json batch() const;
  // "+2 elements -1 element, 1 chain rewritten" or "nothing".
  std::string summary() const;
};

// `current` is nullopt when the kernel has no vmgw table. Applying the result and diffing again
// yields an empty change.
NftChange diff_table(const std::optional<nft::Table>& current, const nft::Table& desired);

}  // namespace vmgw
