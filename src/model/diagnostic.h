// Errors are values: every problem found in the operator's input, with where it is and why.
#pragma once

#include <string>
#include <vector>

namespace vmgw {

struct Location {
  std::string file;  // empty for input that did not come from a file (API)
  int line = 0;      // 1-based; 0 when unknown
  int column = 0;    // 1-based; 0 when unknown
};

struct Diagnostic {
  Location where;
  std::string path;    // field path, e.g. "vms[2].mac"
  std::string reason;  // what is wrong, in the operator's words

  // "file:line:col: path: reason" (parts that are unknown are left out).
  std::string str() const;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace vmgw
