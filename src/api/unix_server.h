// The daemon's listening side: an AF_UNIX stream socket served by a single-threaded poll loop,
// one request per connection. Bounded in every dimension (connections, bytes, time) because
// any local user in the socket's group can connect.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/access.h"
#include "api/http.h"

namespace vmgw::api {

// (Outside the class: a nested struct with member initializers cannot be a default argument.)
struct ServerLimits {
  std::size_t max_connections = 256;         // beyond: accepted, answered 503, closed
  std::chrono::milliseconds timeout{10000};  // to send the request; again to read the answer
  // The share of the connections (connection_share.h): kept for root, and the most one other
  // uid may hold. By default none (the socket file's permissions are the only gate); vmgwd
  // sets them.
  std::size_t reserved_for_root = 0;
  std::size_t per_uid = static_cast<std::size_t>(-1);
};

class UnixServer {
 public:
  using Handler = std::function<Response(const Request&)>;
  using Limits = ServerLimits;

  // Binds and listens on `path` with `mode`, group-owned by `group` if not empty. A stale
  // socket file is replaced; a live one (someone accepts connections) or a non-socket file is
  // an error, as are a missing group and a path too long for sun_path (std::runtime_error).
  explicit UnixServer(std::string path, mode_t mode = 0660, const std::string& group = "",
                      Limits limits = {});
  // The same loop on a TCP socket listening on `address`:`port` (an IPv4 address as text), for
  // the read-only status page (docs/status-page.md). TCP carries no peer credentials: every
  // client gets the access a missing policy gives, so the caller must serve only what anyone
  // who can reach the address may see. Throws std::runtime_error naming the address.
  static std::unique_ptr<UnixServer> listen_tcp(const std::string& address, uint16_t port,
                                                Limits limits = {});
  ~UnixServer();  // closes every connection, unlinks the socket file if it is still ours
  UnixServer(const UnixServer&) = delete;
  UnixServer& operator=(const UnixServer&) = delete;

  // What a connecting process may do, from its credentials (access.h): one with no access is
  // answered 403 and closed before anything is read. Without a policy, everyone who can connect
  // (the socket file's permissions decide) has full access.
  void set_access_policy(std::optional<AccessPolicy> p) { policy_ = std::move(p); }
  void set_limits(const Limits& l) { limits_ = l; }  // applies to connections accepted from now

  int fd() const { return fd_; }
  // The listening socket and every open connection: for an owner that polls this server from
  // another server's loop (its extra_fds), then calls poll_once(0, ...) when one is readable.
  std::vector<int> fds() const;
  const std::string& path() const { return path_; }
  std::size_t connection_count() const { return conns_.size(); }

  // One round of the event loop: waits up to timeout_ms (-1: no limit; shorter when a client's
  // deadline is nearer) for the listening socket, the clients and the owner's `extra_fds`
  // (signalfd, timerfd...); accepts, reads, calls `handle` for each complete request (peer_uid
  // set; exceptions become 500), writes answers, drops clients past their deadline.
  // Returns the extra fds that are readable (or hung up). EINTR just returns early.
  std::vector<int> poll_once(int timeout_ms, const Handler& handle,
                             const std::vector<int>& extra_fds = {});

 private:
  struct Conn;
  UnixServer(int listening_fd, Limits limits);  // listen_tcp's: no socket file
  void accept_all(const Handler& handle);
  void on_readable(Conn& c, const Handler& handle);
  void respond(Conn& c, const Response& r);
  void flush(Conn& c);
  void close_conn(Conn& c);

  std::string path_;
  Limits limits_;
  int fd_ = -1;
  dev_t dev_ = 0;  // identity of the socket file we created, so the destructor never unlinks
  ino_t ino_ = 0;  // a successor's socket
  std::chrono::steady_clock::time_point accept_paused_until_{};
  std::vector<std::unique_ptr<Conn>> conns_;
  std::optional<AccessPolicy> policy_;
};

}  // namespace vmgw::api
