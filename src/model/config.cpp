#include "model/config.h"

namespace vmgw {

std::string_view to_string(UplinkMode m) {
  return m == UplinkMode::balance ? "balance" : "failover";
}

std::string_view to_string(Failback f) {
  return f == Failback::defer ? "defer" : "immediate";
}

}  // namespace vmgw
