// Instantiation: a VM's bindings expanded into its Program. Filter references are followed depth
// first; variables are looked up in the VM's defaults ($IP, $MAC, ...) overridden by the
// binding's parameters, and by the parameters of each <filterref> on the way down (libvirt's
// scoping). List variables give one rule per value: each plain `$A` iterates on its own (all
// combinations), `$A[@n]` and `$B[@n]` move together, `$A[k]` picks element k.
#pragma once

#include <string>
#include <vector>

#include "filter/catalog.h"
#include "filter/program.h"
#include "model/diagnostic.h"

namespace vmgw::filter {

struct Instantiation {
  Program program;
  Diagnostics errors;  // non-empty: the program is not usable
  bool ok() const { return errors.empty(); }
};

// The most rules one <rule> may expand into through list variables (bounds hostile input).
inline constexpr std::size_t kMaxRulesPerRule = 4096;

// `where` names the binding in messages ("vm 'web' filter[1]").
Instantiation instantiate(const FilterCatalog& catalog, const std::vector<Binding>& bindings,
                          const Variables& defaults, const std::string& where);

// Why vmgw cannot enforce an attribute, or "" if it can. (ipset: nftables has no ipsets.)
std::string unsupported_attribute(Protocol p, std::string_view attr);

}  // namespace vmgw::filter
