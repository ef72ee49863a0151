#include "api/unix_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <stdexcept>
#include <system_error>

#include "api/connection_share.h"
#include "api/router.h"

namespace vmgw::api {

using Clock = std::chrono::steady_clock;

struct UnixServer::Conn {
  int fd = -1;
  int uid = -1;
  Access access = Access::none;
  RequestParser parser;
  std::string out;  // bytes still to send (100 Continue, then the answer)
  std::size_t out_off = 0;
  bool responded = false;  // the answer is queued: stop reading, close once sent
  bool continue_sent = false;
  Clock::time_point deadline;
};

namespace {

sockaddr_un make_addr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(addr.sun_path))
    throw std::runtime_error("socket path is empty or longer than " +
                             std::to_string(sizeof(addr.sun_path) - 1) + " bytes: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  return addr;
}

std::runtime_error sys_error(const std::string& what) {
  return std::runtime_error(what + ": " + std::strerror(errno));
}

// A socket file left by a crashed daemon is stale; one that still accepts connections belongs
// to a running daemon, and replacing it would silently steal its clients.
void remove_stale_socket(const std::string& path, const sockaddr_un& addr) {
  struct stat st {};
  if (lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw sys_error("cannot stat " + path);
  }
  if (!S_ISSOCK(st.st_mode))
    throw std::runtime_error(path + " exists and is not a socket; refusing to replace it");
  int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (probe < 0) throw sys_error("socket");
  int rc = connect(probe, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int err = errno;
  close(probe);
  // EAGAIN: the backlog is full, so somebody is listening.
  if (rc == 0 || err == EAGAIN)
    throw std::runtime_error("another process is already listening on " + path);
  if (err != ECONNREFUSED) {
    errno = err;
    throw sys_error("cannot probe existing socket " + path);
  }
  if (unlink(path.c_str()) != 0 && errno != ENOENT) throw sys_error("cannot remove stale " + path);
}

// What the kernel recorded of the connecting process: its uid, pid and groups (the primary one
// and, with SO_PEERGROUPS, the supplementary ones) as they were at connect().
PeerCredentials peer_credentials(int fd) {
  PeerCredentials p;
  ucred cred{};
  socklen_t len = sizeof(cred);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) return p;
  p.uid = cred.uid;
  p.pid = cred.pid;
  p.gids.push_back(cred.gid);
  std::vector<gid_t> groups(64);
  for (int tries = 0; tries < 4; ++tries) {
    socklen_t size = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &size) == 0) {
      groups.resize(size / sizeof(gid_t));
      p.gids.insert(p.gids.end(), groups.begin(), groups.end());
      break;
    }
    if (errno != ERANGE) break;  // no supplementary groups known: the primary one only
    groups.resize(size / sizeof(gid_t) + 1);
  }
  return p;
}

// One non-blocking send of a short answer on a connection we then close: best effort, it fits
// an empty socket buffer.
void refuse(int fd, int status, const std::string& reason) {
  std::string answer = serialize(error_response(status, "", reason));
  [[maybe_unused]] auto sent = send(fd, answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  close(fd);
}

gid_t lookup_group(const std::string& name) {
  std::vector<char> buf(16384);
  group gr{};
  group* result = nullptr;
  int rc = 0;
  while ((rc = getgrnam_r(name.c_str(), &gr, buf.data(), buf.size(), &result)) == ERANGE &&
         buf.size() < (1u << 20))
    buf.resize(buf.size() * 2);
  if (rc != 0) {
    errno = rc;
    throw sys_error("cannot look up group '" + name + "'");
  }
  if (result == nullptr) throw std::runtime_error("group '" + name + "' does not exist");
  return gr.gr_gid;
}

}  // namespace

UnixServer::UnixServer(std::string path, mode_t mode, const std::string& group, Limits limits)
    : path_(std::move(path)), limits_(limits) {
  const sockaddr_un addr = make_addr(path_);
  // Resolve the group first: failing then leaves nothing behind.
  gid_t gid = group.empty() ? static_cast<gid_t>(-1) : lookup_group(group);
  remove_stale_socket(path_, addr);
  fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd_ < 0) throw sys_error("socket");
  if (bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    auto e = sys_error("cannot bind " + path_);
    close(fd_);
    throw e;
  }
  // Permissions are fixed before listen(): nobody can connect while the mode is still the
  // umask's.
  auto undo = [&](const std::string& what) {
    auto e = sys_error(what);
    close(fd_);
    unlink(path_.c_str());
    return e;
  };
  if (chmod(path_.c_str(), mode) != 0) throw undo("cannot chmod " + path_);
  if (!group.empty() && chown(path_.c_str(), static_cast<uid_t>(-1), gid) != 0)
    throw undo("cannot chown " + path_ + " to group " + group);
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) throw undo("cannot stat " + path_);
  dev_ = st.st_dev;
  ino_ = st.st_ino;
  if (listen(fd_, SOMAXCONN) != 0) throw undo("cannot listen on " + path_);
}

UnixServer::UnixServer(int listening_fd, Limits limits) : limits_(limits), fd_(listening_fd) {}

std::unique_ptr<UnixServer> UnixServer::listen_tcp(const std::string& address, uint16_t port,
                                                   Limits limits) {
  const std::string where = address + ":" + std::to_string(port);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1)
    throw std::runtime_error("'" + address + "' is not an IPv4 address");
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) throw sys_error("socket");
  // A restarted daemon binds again at once, past its predecessor's connections in TIME_WAIT.
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0 ||
      listen(fd, SOMAXCONN) != 0) {
    auto e = sys_error("cannot listen on " + where);
    close(fd);
    throw e;
  }
  // (make_unique cannot reach the private constructor.)
  return std::unique_ptr<UnixServer>(new UnixServer(fd, limits));
}

std::vector<int> UnixServer::fds() const {
  std::vector<int> out{fd_};
  for (const auto& c : conns_)
    if (c->fd >= 0) out.push_back(c->fd);
  return out;
}

UnixServer::~UnixServer() {
  for (auto& c : conns_)
    if (c->fd >= 0) close(c->fd);
  close(fd_);
  if (path_.empty()) return;  // TCP: no socket file
  struct stat st {};
  if (stat(path_.c_str(), &st) == 0 && st.st_dev == dev_ && st.st_ino == ino_)
    unlink(path_.c_str());
}

std::vector<int> UnixServer::poll_once(int timeout_ms, const Handler& handle,
                                       const std::vector<int>& extra_fds) {
  auto now = Clock::now();
  // Wake up in time for the nearest deadline (and the end of an accept pause).
  auto wake =
      timeout_ms < 0 ? Clock::time_point::max() : now + std::chrono::milliseconds(timeout_ms);
  bool accepting = now >= accept_paused_until_;
  if (!accepting) wake = std::min(wake, accept_paused_until_);
  std::vector<pollfd> pfds;
  pfds.push_back({fd_, static_cast<short>(accepting ? POLLIN : 0), 0});
  for (const auto& c : conns_) {
    short events = c->responded ? 0 : POLLIN;
    if (c->out_off < c->out.size()) events = static_cast<short>(events | POLLOUT);
    pfds.push_back({c->fd, events, 0});
    wake = std::min(wake, c->deadline);
  }
  for (int fd : extra_fds) pfds.push_back({fd, POLLIN, 0});
  int timeout = -1;
  if (wake != Clock::time_point::max()) {
    auto ms = std::chrono::ceil<std::chrono::milliseconds>(wake - now).count();
    timeout = static_cast<int>(std::clamp<decltype(ms)>(ms, 0, 1 << 30));
  }

  std::vector<int> ready;
  int n = poll(pfds.data(), pfds.size(), timeout);
  if (n < 0) {
    if (errno == EINTR) return ready;
    throw sys_error("poll");
  }
  // Clients first (indices match conns_ as it was), then new connections.
  const std::size_t nconns = conns_.size();
  for (std::size_t i = 0; i < nconns; ++i) {
    Conn& c = *conns_[i];
    short re = pfds[i + 1].revents;
    if (re & POLLOUT) flush(c);
    if (c.fd >= 0 && (re & (POLLIN | POLLHUP | POLLERR))) {
      if (c.responded && !(re & POLLOUT)) {
        close_conn(c);  // hung up before taking the whole answer
      } else if (!c.responded) {
        on_readable(c, handle);
      }
    }
  }
  if (pfds[0].revents & POLLIN) accept_all(handle);
  for (std::size_t i = 0; i < extra_fds.size(); ++i)
    if (pfds[1 + nconns + i].revents & (POLLIN | POLLHUP | POLLERR)) ready.push_back(extra_fds[i]);

  now = Clock::now();
  for (auto& c : conns_)
    if (c->fd >= 0 && now >= c->deadline) close_conn(*c);  // idle, slow, or not reading
  std::erase_if(conns_, [](const auto& c) { return c->fd < 0; });
  return ready;
}

void UnixServer::accept_all(const Handler& handle) {
  for (;;) {
    int cfd = accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (cfd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      // Out of descriptors: the listening socket would stay readable and spin the loop.
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
        accept_paused_until_ = Clock::now() + std::chrono::milliseconds(100);
      return;  // EAGAIN: nothing more pending
    }
    const PeerCredentials peer = peer_credentials(cfd);
    const Access access = policy_ ? access_of(peer, *policy_) : Access::full;
    if (access == Access::none) {
      refuse(cfd, 403, no_access_reason(peer.uid, *policy_));
      continue;
    }
    OpenConnections open;
    for (const auto& c : conns_) {
      if (c->fd < 0) continue;
      ++open.total;
      if (c->uid != 0) ++open.non_root;
      if (c->uid == peer.uid) ++open.of_uid;
    }
    const Admission admission = admit(
        peer.uid, open, {limits_.max_connections, limits_.reserved_for_root, limits_.per_uid});
    if (!admission.admitted()) {
      refuse(cfd, admission.status, admission.reason);
      continue;
    }
    auto c = std::make_unique<Conn>();
    c->fd = cfd;
    c->uid = static_cast<int>(peer.uid);
    c->access = access;
    c->deadline = Clock::now() + limits_.timeout;
    conns_.push_back(std::move(c));
    on_readable(*conns_.back(), handle);  // the request is often already there
  }
}

void UnixServer::on_readable(Conn& c, const Handler& handle) {
  char buf[65536];
  while (c.fd >= 0 && !c.responded) {
    ssize_t n = recv(c.fd, buf, sizeof(buf), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) close_conn(c);
      return;
    }
    if (n == 0) {
      // The client half-closed before finishing its request; it may still read an answer.
      respond(c, error_response(400, "", "connection closed before the request was complete"));
      return;
    }
    auto state = c.parser.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    if (state == RequestParser::State::error) {
      respond(c, error_response(c.parser.error_status(), "", c.parser.error_reason()));
    } else if (state == RequestParser::State::complete) {
      Request req = c.parser.take_request();
      req.peer_uid = c.uid;
      req.access = c.access;
      Response r;
      try {
        r = handle(req);
      } catch (const std::exception& e) {
        r = error_response(500, "", std::string("internal error: ") + e.what());
      } catch (...) {
        r = error_response(500, "", "internal error");
      }
      respond(c, r);
    } else if (c.parser.wants_continue() && !c.continue_sent) {
      c.continue_sent = true;
      c.out += "HTTP/1.1 100 Continue\r\n\r\n";
      flush(c);
    }
  }
}

void UnixServer::respond(Conn& c, const Response& r) {
  c.out += serialize(r);
  c.responded = true;
  c.deadline = Clock::now() + limits_.timeout;  // a fresh window to take the answer
  flush(c);
}

void UnixServer::flush(Conn& c) {
  while (c.fd >= 0 && c.out_off < c.out.size()) {
    ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) close_conn(c);
      return;
    }
    c.out_off += static_cast<std::size_t>(n);
  }
  if (c.fd < 0) return;
  c.out.clear();
  c.out_off = 0;
  if (c.responded) close_conn(c);
}

void UnixServer::close_conn(Conn& c) {
  if (c.fd >= 0) close(c.fd);
  c.fd = -1;  // erased at the end of poll_once
}

}  // namespace vmgw::api
