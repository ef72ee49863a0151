// libFuzzer target: filter instantiation (list variables, iterators, filter references) on
// arbitrary filters and parameters. The input is filters in nwfilter XML separated by lines
// "==", then "--" and the binding's parameters, one NAME=VALUE a line; the first filter is bound,
// as many times as the first byte says (1-40). Besides crashes and sanitizer reports it checks the
// bounds of issue "bounded work per request" (abort() on violation): whatever the input, the
// result holds at most rules_per_vm rules, an error names what it refuses, and the work is bounded
// (libFuzzer's -timeout and -rss_limit_mb catch an expansion that is not).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "filter/builtins.h"
#include "filter/instantiate.h"
#include "filter/parse.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

std::vector<std::string> split(const std::string& s, const std::string& sep) {
  std::vector<std::string> out;
  size_t at = 0;
  for (size_t next; (next = s.find(sep, at)) != std::string::npos; at = next + sep.size())
    out.push_back(s.substr(at, next - at));
  out.push_back(s.substr(at));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmgw::filter;
  if (size < 1) return 0;
  const size_t copies = 1 + data[0] % 40;
  const std::string text(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parts = split(text, "\n--\n");
  FilterCatalog catalog = builtin_catalog();
  std::string first;
  for (const auto& xml : split(parts[0], "\n==\n")) {
    auto parsed = parse_filter_xml(xml, "fuzz.xml");
    if (!parsed.ok() || is_builtin(parsed.filter->name)) continue;
    if (first.empty()) first = parsed.filter->name;
    catalog.add_or_replace(std::move(*parsed.filter));
  }
  if (first.empty()) return 0;
  Binding b{first, {}};
  if (parts.size() > 1)
    for (const auto& line : split(parts[1], "\n")) {
      auto eq = line.find('=');
      if (eq != std::string::npos) b.params.emplace_back(line.substr(0, eq), line.substr(eq + 1));
    }
  const Variables defaults{{"IP", {"10.0.0.5"}}, {"MAC", {"52:54:00:00:00:05"}}};
  auto inst = instantiate(catalog, std::vector<Binding>(copies, b), defaults, "vm 'fuzz'");
  check(inst.program.rules.size() <= kExpansionLimits.rules_per_vm);
  for (const auto& e : inst.errors) check(!e.reason.empty() && !e.path.empty());
  if (!inst.ok()) check(inst.program.rules.empty());
  return 0;
}
