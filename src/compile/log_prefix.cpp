#include "compile/log_prefix.h"

#include <algorithm>
#include <array>

namespace vmgw {
namespace {

std::string_view next_word(std::string_view& s) {
  size_t end = s.find(' ');
  std::string_view word = s.substr(0, end);
  s = end == std::string_view::npos ? std::string_view{} : s.substr(end + 1);
  return word;
}

}  // namespace

std::optional<LogPrefix> parse_log_prefix(std::string_view prefix) {
  std::string_view rest = prefix;
  if (next_word(rest) != "vmgw") return std::nullopt;
  LogPrefix p;
  p.verdict = next_word(rest);
  // Every nwfilter action can carry log='yes': return and continue are logged too.
  static constexpr std::array<std::string_view, 6> kVerdicts{"accept", "drop",     "reject",
                                                             "return", "continue", "log"};
  if (std::find(kVerdicts.begin(), kVerdicts.end(), p.verdict) == kVerdicts.end())
    return std::nullopt;
  std::string_view direction = next_word(rest);
  if (direction != "out" && direction != "in" && direction != "-") return std::nullopt;
  if (direction != "-") p.direction = direction;
  // Trailing spaces are a habit carried over from iptables LOG prefixes, not rule text.
  while (!rest.empty() && rest.back() == ' ') rest.remove_suffix(1);
  p.rule = rest;
  return p;
}

}  // namespace vmgw
