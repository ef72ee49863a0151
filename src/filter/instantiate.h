// Instantiation: a VM's bindings expanded into its Program. Filter references are followed depth
// first; variables are looked up in the VM's defaults ($IP, $MAC, ...) overridden by the
// binding's parameters, and by the parameters of each <filterref> on the way down (libvirt's
// scoping). List variables give one rule per value, combined exactly as libvirt combines them
// (filter/iterate.h): references under one iterator move together (a plain `$A` is `$A[@0]`),
// distinct iterators give every combination, `$A[k]` picks element k.
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

// Bounds on the work one VM's filters can cause (docs/config.md, "Limits"). A small request must
// not be able to make vmgwd compile millions of rules: list variables multiply (two 64-value
// lists under two iterators in one rule are 4 096 rules), and filter references can fan out (a
// filter that refers to another twice, nested 20 deep, is a million visits). Each bound is checked
// before the rules it guards are materialised, and the error names the limit.
struct ExpansionLimits {
  std::size_t filters_per_vm = 32;          // bindings of one VM
  std::size_t values_per_variable = 1024;   // values of one list variable ($IP, a parameter)
  std::size_t rules_per_filter = 4096;      // rules one binding expands into
  std::size_t rules_per_vm = 8192;          // rules all of a VM's bindings expand into
  std::size_t filter_visits_per_vm = 1024;  // filters entered through <filterref>, all bindings
};
inline constexpr ExpansionLimits kExpansionLimits{};

// `where` names the binding in messages ("vm 'web' filter[1]").
Instantiation instantiate(const FilterCatalog& catalog, const std::vector<Binding>& bindings,
                          const Variables& defaults, const std::string& where,
                          const ExpansionLimits& limits = kExpansionLimits);

// Why vmgw cannot enforce an attribute, or "" if it can. (ipset: nftables has no ipsets.)
std::string unsupported_attribute(Protocol p, std::string_view attr);

}  // namespace vmgw::filter
