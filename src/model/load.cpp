#include "model/load.h"

#include <algorithm>
#include <set>
#include <tuple>

namespace vmgw {
namespace {

std::variant<Validated<Config>, Diagnostics> finish(ParseResult parsed) {
  auto result = validate(std::move(parsed.config));
  if (parsed.errors.empty()) return result;
  Diagnostics all = std::move(parsed.errors);
  if (auto* later = std::get_if<Diagnostics>(&result)) {
    std::set<std::string> reported;
    for (const auto& d : all) reported.insert(d.path);
    for (auto& d : *later) {
      // "vms[0].mac" failed to parse: the validator only knows it as missing.
      if (!reported.count(d.path)) all.push_back(std::move(d));
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::tie(a.where.line, a.where.column) < std::tie(b.where.line, b.where.column);
  });
  return all;
}

}  // namespace

std::variant<Validated<Config>, Diagnostics> load_config(const std::string& yaml_text,
                                                         const std::string& file) {
  return finish(parse_config(yaml_text, file));
}

std::variant<Validated<Config>, Diagnostics> load_config_file(const std::string& path) {
  return finish(parse_config_file(path));
}

}  // namespace vmgw
