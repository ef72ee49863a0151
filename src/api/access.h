// Who may use vmgwd's API, decided from the credentials the kernel gives for the connecting
// process (SO_PEERCRED, SO_PEERGROUPS): pure functions, so the policy is unit-tested without
// users, groups or sockets.
//
// Why not file permissions: a socket file names one group, and two kinds of access need two
// (full control: `api.group`, default `vmgw`; read only: `api.read_only_group`, default
// `vmgw-ro`). POSIX ACLs could name both, but depend on the file system under /run. So the
// socket is mode 0666 when a group is configured, and the daemon decides at accept(), before
// reading a byte: a process that is neither root, nor the daemon's own user, nor in either group
// is answered 403 and closed at once, and holds no connection slot. The groups are the ones the
// process has when it connects (supplementary groups included), as the kernel recorded them, not
// a lookup of the user's groups in /etc/group that could differ from what the process holds.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace vmgw::api {

enum class Access { none, read, full };

struct PeerCredentials {
  int64_t uid = -1;  // -1: unknown
  int64_t pid = 0;
  std::vector<uint32_t> gids;  // the primary group and the supplementary ones
};

struct Group {
  uint32_t gid = 0;
  std::string name;  // as configured, for messages ("vmgw", or "1234" for a numeric gid)
};

struct AccessPolicy {
  uint32_t owner_uid = 0;          // the daemon's own user: full control, as root
  std::optional<Group> full;       // api.group, when it exists
  std::optional<Group> read_only;  // api.read_only_group, when it exists
};

// root and the daemon's own user: full; a member of `full`: full; of `read_only`: read; else
// none. Membership in both groups is full control.
Access access_of(const PeerCredentials& peer, const AccessPolicy& policy);

// Whether a request only reads: GET and HEAD, and POST /v1/trace (it evaluates a packet the
// client describes and changes nothing).
bool is_read_only(const std::string& method, const std::string& path);

// Why a client with `access` may not make this request (the 403's reason), or nullopt if it may.
std::optional<std::string> refusal(Access access, int64_t uid, const std::string& method,
                                   const std::string& path, const AccessPolicy& policy);

// The reason given to a client with no access at all.
std::string no_access_reason(int64_t uid, const AccessPolicy& policy);

}  // namespace vmgw::api
