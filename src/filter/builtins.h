// vmgw's built-in filters: the filters libvirt installs with nwfilter (clean-traffic,
// no-ip-spoofing, allow-dhcp, ...), written for vmgw with the same names, chains, priorities and
// behaviour, so that VM definitions that reference them work unchanged. docs/filters-builtin.md
// lists them with the variables each one needs.
#pragma once

#include <span>
#include <string_view>

#include "filter/catalog.h"

namespace vmgw::filter {

struct BuiltinFilter {
  std::string_view name;
  std::string_view xml;      // a complete <filter> document
  std::string_view summary;  // one line: what it does
};

// Every built-in, sorted by name.
std::span<const BuiltinFilter> builtin_filters();

bool is_builtin(std::string_view name);

// Whether `f` is a built-in as vmgw ships it, rather than an operator's filter that took a
// built-in's name (a replacement, or a file of `vmgw apply`'s config).
bool is_shipped_builtin(const Filter& f);

// The built-in as vmgw ships it, or nullptr if `name` is not a built-in's.
const Filter* shipped_builtin(std::string_view name);

// A catalog holding every built-in, parsed (from "builtin:<name>"). Throws std::logic_error if
// one of them does not parse or references a filter that is not built in: that is a bug in vmgw.
FilterCatalog builtin_catalog();

}  // namespace vmgw::filter
