// nftables text syntax for vmgw's JSON vocabulary: what `vmgw plan` prints and what the golden
// files hold. It renders the same JSON that is sent to the kernel, so the text cannot drift from
// the batch.
#pragma once

#include <string>

#include "nft/table.h"

namespace vmgw::nft {

// One expression or statement as nft text ("ip saddr 10.0.0.0/24", "counter", "accept").
std::string expr_text(const Json& e);
// One rule: its statements joined by spaces, then its comment.
std::string rule_text(const Rule& r);
// One element: "key" or "key : value".
std::string element_text(const Set& s, const Element& e);
// The whole table in `nft list table` layout (sets first, then chains).
std::string table_text(const Table& t);

}  // namespace vmgw::nft
