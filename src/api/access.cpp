#include "api/access.h"

#include <algorithm>

namespace vmgw::api {
namespace {

bool member(const PeerCredentials& peer, const std::optional<Group>& g) {
  return g && std::find(peer.gids.begin(), peer.gids.end(), g->gid) != peer.gids.end();
}

std::string named(const Group& g) {
  return "group '" + g.name + "' (gid " + std::to_string(g.gid) + ")";
}

}  // namespace

Access access_of(const PeerCredentials& peer, const AccessPolicy& policy) {
  if (peer.uid == 0 || (peer.uid >= 0 && peer.uid == int64_t{policy.owner_uid}))
    return Access::full;
  if (member(peer, policy.full)) return Access::full;
  if (member(peer, policy.read_only)) return Access::read;
  return Access::none;
}

bool is_read_only(const std::string& method, const std::string& path) {
  return method == "GET" || method == "HEAD" || (method == "POST" && path == "/v1/trace");
}

std::optional<std::string> refusal(Access access, int64_t uid, const std::string& method,
                                   const std::string& path, const AccessPolicy& policy) {
  if (access == Access::full) return std::nullopt;
  if (access == Access::read && is_read_only(method, path)) return std::nullopt;
  if (access == Access::none) return no_access_reason(uid, policy);
  std::string reason = "uid " + std::to_string(uid) + " may only read";
  if (policy.read_only) reason += " (" + named(*policy.read_only) + ")";
  reason += ": " + method + " " + path + " changes the gateway; changes need root";
  if (policy.full) reason += " or " + named(*policy.full);
  return reason;
}

std::string no_access_reason(int64_t uid, const AccessPolicy& policy) {
  std::string reason = "uid " + std::to_string(uid) + " may not use the vmgwd API: it is not root";
  if (policy.full) reason += ", not in " + named(*policy.full);
  if (policy.read_only) reason += ", not in " + named(*policy.read_only);
  return reason;
}

}  // namespace vmgw::api
