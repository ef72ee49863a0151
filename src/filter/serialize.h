// Writes a filter back as libvirt-style XML (dumpxml): 2-space indent, single-quoted attributes,
// protocol attributes in the order they were written, and only what was written (no defaults
// filled in). parse_filter_xml(filter_to_xml(f)) gives back f.
#pragma once

#include <string>

#include "filter/model.h"

namespace vmgw::filter {

std::string filter_to_xml(const Filter& f);

// Escapes text for a single-quoted XML attribute value (also tab/CR/LF, which XML would
// otherwise normalize to spaces).
std::string xml_attr_escape(const std::string& s);

}  // namespace vmgw::filter
