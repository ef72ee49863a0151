#include "api/unix_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace vmgw::api {
namespace {

// Closes the socket on every exit path, exceptions included.
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

}  // namespace

Response http_call(const std::string& socket_path, const Request& req, int timeout_ms) {
  using Clock = std::chrono::steady_clock;
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto fail = [&](const std::string& why) {
    return std::runtime_error("cannot connect to vmgwd at " + socket_path + ": " + why +
                              "; is the daemon running?");
  };

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path))
    throw fail("socket path is empty or too long");
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);

  Fd s{socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (s.fd < 0) throw fail(std::strerror(errno));
  // A blocking AF_UNIX connect waits (for a full backlog) at most SO_SNDTIMEO; a non-blocking
  // one would fail with EAGAIN instead of waiting.
  timeval tv{};
  tv.tv_sec = timeout_ms / 1000;
  tv.tv_usec = (timeout_ms % 1000) * 1000;
  setsockopt(s.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  int rc;
  do {
    rc = connect(s.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) throw fail(errno == EAGAIN ? "timed out" : std::strerror(errno));
  fcntl(s.fd, F_SETFL, fcntl(s.fd, F_GETFL) | O_NONBLOCK);

  // Waits for `events` until the overall deadline.
  auto wait_for = [&](short events) {
    for (;;) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) break;
      pollfd p{s.fd, events, 0};
      int n = poll(&p, 1, static_cast<int>(std::min<decltype(left)>(left, 1 << 30)));
      if (n > 0) return;
      if (n < 0 && errno != EINTR)
        throw std::runtime_error(std::string("poll: ") + std::strerror(errno));
    }
    throw std::runtime_error("vmgwd at " + socket_path + " did not answer within " +
                             std::to_string(timeout_ms) + " ms");
  };

  const std::string out = serialize(req);
  std::size_t off = 0;
  while (off < out.size()) {
    ssize_t n = send(s.fd, out.data() + off, out.size() - off, MSG_NOSIGNAL);
    if (n >= 0) {
      off += static_cast<std::size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait_for(POLLOUT);
    } else if (errno == EPIPE || errno == ECONNRESET) {
      break;  // the daemon answered early (413, 503...) and closed: read that answer
    } else if (errno != EINTR) {
      throw std::runtime_error("cannot send to vmgwd at " + socket_path + ": " +
                               std::strerror(errno));
    }
  }

  ResponseParser parser;
  char buf[65536];
  while (parser.state() == ResponseParser::State::need_more) {
    ssize_t n = recv(s.fd, buf, sizeof(buf), 0);
    if (n > 0) {
      parser.feed(std::string_view(buf, static_cast<std::size_t>(n)));
    } else if (n == 0 || errno == ECONNRESET) {
      // ECONNRESET: the daemon closed with our unread bytes queued; what it sent came first.
      parser.finish();
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      wait_for(POLLIN);
    } else if (errno != EINTR) {
      throw std::runtime_error("cannot read from vmgwd at " + socket_path + ": " +
                               std::strerror(errno));
    }
  }
  if (parser.state() == ResponseParser::State::error)
    throw std::runtime_error("invalid answer from vmgwd at " + socket_path + ": " +
                             parser.error_reason());
  return parser.take_response();
}

}  // namespace vmgw::api
