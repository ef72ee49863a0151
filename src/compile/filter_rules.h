// One instantiated nwfilter rule -> nftables expressions. The meaning of every attribute is
// decided here (and mirrored by filter/evaluate.cpp for `vmgw trace`; the netns trace test holds
// the two together).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "filter/program.h"
#include "nft/vocab.h"

namespace vmgw::compile_detail {

// The NFLOG group vmgwd reads; log statements of filters and default drops send there.
inline constexpr int kNflogGroup = 7;

// The match expressions of `r` (its protocol's implied packet type first). nullopt when the rule
// can never match (state='NONE'), so it is left out.
std::optional<std::vector<nft::Json>> rule_matches(const filter::ConcreteRule& r);

// The match that sends frames into an l2 sub-chain by its name's prefix (mac: none).
std::vector<nft::Json> chain_guard(const std::string& chain);

// counter, log (if asked), verdict: the statements ending a filter rule.
std::vector<nft::Json> rule_statements(const filter::ConcreteRule& r, filter::Direction d);

// "vmgw <verdict> <direction> <what>", cut to the kernel's 127 characters.
std::string log_prefix(const std::string& verdict, const std::string& direction,
                       const std::string& what);
nft::Json log_to_daemon(const std::string& prefix);

}  // namespace vmgw::compile_detail
