#include "model/diagnostic.h"

namespace vmgw {

std::string Diagnostic::str() const {
  std::string out;
  if (!where.file.empty()) out += where.file + ":";
  if (where.line > 0) {
    out += std::to_string(where.line) + ":";
    if (where.column > 0) out += std::to_string(where.column) + ":";
  }
  if (!out.empty()) out += " ";
  if (!path.empty()) out += path + ": ";
  out += reason;
  return out;
}

}  // namespace vmgw
