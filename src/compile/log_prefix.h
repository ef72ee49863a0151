// The inverse of compile_detail::log_prefix: what a log statement of vmgw's rules says about
// itself ("vmgw <verdict> <direction> <rule text>"), read back by vmgwd's drop log and by
// `vmgw log` without the daemon.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace vmgw {

struct LogPrefix {
  std::string verdict, direction, rule;
  bool operator==(const LogPrefix&) const = default;
};

// Verdict one of accept/drop/reject/return/continue/log, direction out/in/- ("-" becomes ""),
// the rule text the rest (spaces allowed, may be empty; the kernel cuts prefixes at 127
// bytes). nullopt if not vmgw's.
std::optional<LogPrefix> parse_log_prefix(std::string_view prefix);

}  // namespace vmgw
