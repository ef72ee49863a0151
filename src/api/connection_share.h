// How vmgwd's connections are shared among the users that may connect: pure, so the policy is
// unit-tested without sockets. Without a share, one member of the socket's group could open
// every connection the daemon accepts (256) and lock root out.
//
// Root always has `reserved_for_root` connections no one else can take; every other uid may
// hold at most `per_uid`, and all of them together at most max_connections - reserved_for_root.
// A refusal is answered at once (the client is not left waiting): 429 when the uid holds its
// share, 503 when the daemon (or the part of it open to other users than root) is full.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace vmgw::api {

struct ConnectionShare {
  std::size_t max_connections = 256;
  std::size_t reserved_for_root = 32;
  std::size_t per_uid = 64;  // api.connections_per_user
};

struct OpenConnections {
  std::size_t total = 0;
  std::size_t of_uid = 0;    // held by the uid asking
  std::size_t non_root = 0;  // held by uids other than 0
};

struct Admission {
  int status = 0;  // 0: admitted; else the HTTP status of the refusal (429, 503)
  std::string reason;
  bool admitted() const { return status == 0; }
};

Admission admit(int64_t uid, const OpenConnections& open, const ConnectionShare& share);

}  // namespace vmgw::api
