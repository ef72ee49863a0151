// vmgw's log statements, bounded in the kernel (host.drop_log). Every logged packet costs vmgwd
// a wake-up and a decode, so a flood at a closed port used to cost it a CPU. Each log point now
// jumps to a small chain of its own that logs only within the limits, then gives the verdict
// either way, and counts what it did not log:
//
//   <matches> counter jump log-<hash>              (goto for an nwfilter return)
//   chain log-<hash> {
//     [per source] [all sources] log prefix "..." group 7 <verdict>   within the limits
//     jump log_suppressed                                            over them: counted
//     <verdict>
//   }
//
// Why a chain and not `limit` in the rule itself: a `limit` that is over ends the rule, and the
// rule's verdict with it, so the packet would fall through to the next rule. Repeating the
// matches in a second rule would count the per-VM set elements of a filter rule twice.
//
// The limits are dynamic sets with a limit per element, as nft's meters are: one keyed by the
// source (IPv4 address in inet, MAC in bridge), so that one flooding source cannot use up the
// budget of the others, and one keyed by `meta mark & 0` (always 0: a single element), which is
// one token bucket shared by every log point of the table. A named limit object would do for
// the latter, but vmgw's table model has sets and chains only. An element keeps the limit it was
// created with, so the sets are named by their limits ("drop_log_rate-100-100",
// "drop_log_sources-20"): a new host.drop_log replaces them, and their buckets with them. All log
// points' suppressed packets pass through the one rule of `log_suppressed`, whose counter vmgwd
// reads for /metrics (vmgw_drop_log_suppressed_packets_total).
#pragma once

#include <string>
#include <vector>

#include "compile/contribution.h"
#include "model/config.h"
#include "nft/table.h"

namespace vmgw::names {
inline constexpr const char* kLogSuppressed = "log_suppressed";
}  // namespace vmgw::names

namespace vmgw::compile_detail {

// The NFLOG group vmgwd reads; log statements of filters and default drops send there.
inline constexpr int kNflogGroup = 7;

// How a logging rule ends, logged or not.
struct LogEnd {
  std::vector<nft::Json> verdict;  // accept, drop, reject...; empty: go on (nwfilter continue)
  bool leave_chain = false;        // nwfilter return: leave the calling chain (verdict empty)
};

// "vmgw <verdict> <direction> <what>", cut to the kernel's 127 characters.
std::string log_prefix(const std::string& verdict, const std::string& direction,
                       const std::string& what);

// The chain `name` of `table` that logs `prefix` within `limit` and ends as `end` says.
nft::Chain log_chain(const std::string& name, NftTable table, const std::string& prefix,
                     const LogEnd& end, const DropLogLimit& limit);
// The statement that ends the logging rule: jump to the log chain, or goto for a return.
nft::Json enter_log_chain(const std::string& name, const LogEnd& end);
// "log-<16 hex>": a program's log chain, named by its content (shared like the program).
std::string log_chain_name(NftTable table, const std::string& prefix, const LogEnd& end,
                           const DropLogLimit& limit);

// The sets and the log_suppressed chain every vmgw table declares.
void declare_drop_log(nft::Table& t, NftTable table, const DropLogLimit& limit);

// A log point of the base (a default drop, quarantine, the flow limit): adds its log chain
// `name` to `t` and returns the statements that end its rule (counter, jump).
std::vector<nft::Json> logged_drop(nft::Table& t, NftTable table, const std::string& name,
                                   const std::string& prefix, const DropLogLimit& limit);

}  // namespace vmgw::compile_detail
