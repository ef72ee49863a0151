#include "filter/import.h"

#include <map>
#include <optional>
#include <variant>

#include "filter/parse.h"

namespace vmgw::filter {
namespace {

struct Ordering {
  std::vector<std::optional<Filter>> parsed;
  std::map<std::string, std::size_t, std::less<>> by_name;  // the first source of each name
  std::vector<bool> placed, entered;
  std::vector<std::size_t> order;

  // Depth first: the sources a filter references are placed before it. `entered` stops a
  // loop (placed in the order met; vmgwd refuses it with the loop spelled out).
  void place(std::size_t i) {
    if (placed[i] || entered[i]) return;
    entered[i] = true;
    if (parsed[i])
      for (const auto& e : parsed[i]->entries)
        if (const auto* ref = std::get_if<FilterRef>(&e))
          if (auto it = by_name.find(ref->filter); it != by_name.end()) place(it->second);
    placed[i] = true;
    order.push_back(i);
  }
};

}  // namespace

std::vector<std::size_t> definition_order(std::span<const FilterSource> sources) {
  Ordering o;
  for (const auto& s : sources) {
    auto r = parse_filter_xml(s.xml, s.origin);
    if (r.ok()) o.by_name.emplace(r.filter->name, o.parsed.size());
    o.parsed.push_back(r.ok() ? std::move(r.filter) : std::nullopt);
  }
  o.placed.assign(sources.size(), false);
  o.entered.assign(sources.size(), false);
  for (std::size_t i = 0; i < sources.size(); ++i) o.place(i);
  return o.order;
}

}  // namespace vmgw::filter
