// YAML -> Config. Structural problems (unknown keys, wrong types, unparsable values) are
// collected, not thrown: the caller gets every error at once, each with file:line:column.
#pragma once

#include <string>

#include "model/config.h"

namespace vmgw {

struct ParseResult {
  Config config;
  Diagnostics errors;
};

// Parses YAML text; `file` is used in locations only.
ParseResult parse_config(const std::string& yaml_text, const std::string& file);

// Reads and parses a file; a missing or unreadable file is one error.
ParseResult parse_config_file(const std::string& path);

}  // namespace vmgw
