// Parse + validate as one step, for every entry point (CLI, golden tests, later the API).
#pragma once

#include <string>
#include <variant>

#include "model/parse.h"
#include "model/validate.h"

namespace vmgw {

// Every error of both stages at once, sorted by location. A field that failed to parse is
// reported once (by the parser), not again as "missing" by the validator; the rest of the file
// is still validated so the operator sees all mistakes in one run.
std::variant<Validated<Config>, Diagnostics> load_config(const std::string& yaml_text,
                                                         const std::string& file);
std::variant<Validated<Config>, Diagnostics> load_config_file(const std::string& path);

}  // namespace vmgw
