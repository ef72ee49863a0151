// Reads one libvirt nwfilter XML document (<filter>...</filter>) into the filter model.
//
// Filters are untrusted input: libxml2 runs without network access, without entity substitution
// and without loading DTDs; a DOCTYPE is refused. Every problem is reported (not just the
// first), each with file:line:column (column 0 when libxml2 does not know it), a path such as
// "filter[name=web]/rule[2]/tcp@dstportstart" and a reason.
#pragma once

#include <optional>
#include <string>

#include "filter/model.h"
#include "model/diagnostic.h"

namespace vmgw::filter {

struct ParseResult {
  std::optional<Filter> filter;  // set only when there are no errors
  Diagnostics errors;

  bool ok() const { return errors.empty(); }
};

// The largest document accepted (filters are small; this bounds the work on hostile input).
inline constexpr std::size_t kMaxFilterXmlBytes = 1 << 20;

ParseResult parse_filter_xml(const std::string& xml, const std::string& file);

}  // namespace vmgw::filter
