// The set of defined filters, by name, and the checks that need more than one filter:
// references to filters that do not exist and reference loops.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "filter/model.h"
#include "model/diagnostic.h"

namespace vmgw::filter {

// Filters are held immutable and shared: a copy of the catalog (a change prepares the catalog it
// would make, beside the one in force) copies pointers, not 10 000 filters.
class FilterCatalog {
 public:
  // Defines a filter, replacing one of the same name. Returns true if it replaced one.
  bool add_or_replace(Filter f);
  // Removes a filter; false if there was none. (References to it become unknown: callers check
  // users_of() first when removing must not break anything.)
  bool remove(std::string_view name);
  const Filter* lookup(std::string_view name) const;
  std::size_t size() const { return filters_.size(); }
  std::vector<std::string> names() const;  // sorted

  // Everything wrong in the tree of filters reachable from `name`: the filter itself unknown,
  // references to unknown filters ("unknown filter 'x' (a -> b -> x)") and loops
  // ("loop: a -> b -> a"). Each problem is reported once, located at the <filterref>.
  Diagnostics check_references(std::string_view name) const;
  // check_references over every filter, each problem once.
  Diagnostics check_all() const;

  // The filters that reference `name` directly, sorted.
  std::vector<std::string> users_of(std::string_view name) const;

 private:
  using Filters = std::map<std::string, std::shared_ptr<const Filter>, std::less<>>;
  Filters filters_;
};

}  // namespace vmgw::filter
