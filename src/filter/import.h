// Importing libvirt's filters: many documents at once, from files or from a running libvirt
// (the virNWFilter API), defined one by one so that each is accepted or refused on its own.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

namespace vmgw::filter {

// One filter document to define, and where it came from: a file's path, or "libvirt:NAME" for
// a filter read from a running libvirt.
struct FilterSource {
  std::string origin;
  std::string xml;
};

// The order in which to define `sources` (indexes into it): each filter after the filters of
// `sources` that it references, directly or not; otherwise in the order given. A document that
// does not parse, or a loop, keeps its place: defining it reports what is wrong.
std::vector<std::size_t> definition_order(std::span<const FilterSource> sources);

}  // namespace vmgw::filter
