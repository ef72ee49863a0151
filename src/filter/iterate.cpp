#include "filter/iterate.h"

#include <limits>
#include <map>
#include <optional>
#include <set>
#include <string_view>

namespace vmgw::filter {
namespace {

// The steps of an iterator over `refs` (all of `len` values): 0..len-1 without the steps whose
// values, taken together, equal an earlier step's (libvirt's
// virNWFilterVarCombIterEntryAreUniqueEntries).
std::vector<std::size_t> distinct_steps(std::span<const ListRef> all,
                                        const std::vector<std::size_t>& refs, std::size_t len) {
  std::vector<std::size_t> steps;
  std::set<std::vector<std::string_view>> seen;
  for (std::size_t i = 0; i < len; ++i) {
    std::vector<std::string_view> values;
    values.reserve(refs.size());
    for (std::size_t r : refs) values.emplace_back((*all[r].values)[i]);
    if (seen.insert(std::move(values)).second) steps.push_back(i);
  }
  return steps;
}

std::string values_text(std::size_t n) {
  return std::to_string(n) + " value" + (n == 1 ? "" : "s");
}

}  // namespace

Iteration iterate(std::span<const ListRef> refs) {
  Iteration out;
  // Iterator 0 comes first even when no reference uses it (libvirt creates it always); fixed
  // elements are iterators of one step.
  struct Building {
    std::vector<std::size_t> refs;
    std::size_t len = 0;
    std::optional<std::size_t> fixed;  // $A[k]: always value k
  };
  std::vector<Building> iterators(1);
  std::map<uint32_t, std::size_t> by_id{{0, 0}};
  for (std::size_t r = 0; r < refs.size(); ++r) {
    const VariableRef& v = refs[r].ref;
    const std::size_t n = refs[r].values->size();
    if (v.access == VariableRef::Access::index) {
      if (v.number >= n) {
        out.errors.push_back(
            {r, v.str() + ": index out of range ($" + v.name + " has " + values_text(n) + ")"});
        continue;
      }
      iterators.push_back({{r}, n, v.number});
      continue;
    }
    auto [it, added] = by_id.emplace(v.iterator_id(), iterators.size());
    if (added) iterators.emplace_back();
    Building& b = iterators[it->second];
    if (!b.refs.empty() && b.len != n) {
      const ListRef& first = refs[b.refs.front()];
      const std::string by = v.iterator_id() == 0 ? "plainly (iterator @0)"
                                                  : "by iterator @" + std::to_string(v.number);
      out.errors.push_back({r, "$" + v.name + " (" + values_text(n) + ") and $" + first.ref.name +
                                   " (" + values_text(b.len) + ") are walked together " + by +
                                   ", so they must have as many values; to combine every "
                                   "value of one with every value of the other, give them "
                                   "different iterators ($A[@1], $B[@2])"});
      continue;
    }
    b.len = n;
    b.refs.push_back(r);
  }
  if (!out.errors.empty()) return out;
  for (const auto& b : iterators) {
    Iteration::Iterator it{b.refs, {}};
    if (b.fixed)
      it.positions = {*b.fixed};
    else if (b.refs.empty())
      it.positions = {0};
    else
      it.positions = distinct_steps(refs, b.refs, b.len);
    out.iterators_.push_back(std::move(it));
  }
  return out;
}

std::size_t Iteration::count() const {
  if (!errors.empty()) return 0;
  std::size_t n = 1;
  for (const auto& it : iterators_) {
    const std::size_t steps = it.positions.size();
    if (steps != 0 && n > std::numeric_limits<std::size_t>::max() / steps)
      return std::numeric_limits<std::size_t>::max();
    n *= steps;
  }
  return n;
}

std::vector<std::size_t> Iteration::pick(std::size_t c) const {
  std::size_t refs = 0;
  for (const auto& it : iterators_) refs += it.refs.size();
  std::vector<std::size_t> out(refs);
  for (const auto& it : iterators_) {
    const std::size_t step = it.positions[c % it.positions.size()];
    c /= it.positions.size();
    for (std::size_t r : it.refs) out[r] = step;
  }
  return out;
}

}  // namespace vmgw::filter
