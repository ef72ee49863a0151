// Reads what the kernel holds: the JSON listing of vmgw's table (as libnftables prints it)
// parsed into the same Table type the compiler produces.
#pragma once

#include <optional>

#include "nft/table.h"

namespace vmgw {

// Parses `{"nftables": [...]}` from `list table <family> <name>`; nullopt if the listing holds
// no such table. Rules keep the id stored in their comment (Rule::listed_id); a rule without
// one (added by someone else) gets an id that matches nothing, so its chain is rewritten.
std::optional<nft::Table> table_from_listing(const nft::Json& listing, const std::string& family,
                                             const std::string& name);

}  // namespace vmgw
