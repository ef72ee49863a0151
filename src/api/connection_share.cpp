#include "api/connection_share.h"

#include <algorithm>

namespace vmgw::api {

Admission admit(int64_t uid, const OpenConnections& open, const ConnectionShare& share) {
  if (open.total >= share.max_connections)
    return {503, "too many connections (" + std::to_string(share.max_connections) +
                     " open); retry later"};
  if (uid == 0) return {};
  if (open.of_uid >= share.per_uid)
    return {429, "uid " + std::to_string(uid) + " already has " + std::to_string(open.of_uid) +
                     " connections open, the most one user may hold (api.connections_per_user); "
                     "close some or retry later"};
  const std::size_t others =
      share.max_connections - std::min(share.reserved_for_root, share.max_connections);
  if (open.non_root >= others)
    return {503, "the " + std::to_string(others) +
                     " connections open to users other than root are taken; retry later"};
  return {};
}

}  // namespace vmgw::api
