// A real UnixServer on a /tmp socket, its poll loop driven by the test thread while clients
// (http_call or raw sockets) run in std::threads.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <fstream>
#include <functional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "api/router.h"
#include "api/unix_client.h"
#include "api/unix_server.h"

namespace vmgw::api {
namespace {

std::string socket_path() {
  static int n = 0;
  return "/tmp/vmgw-test-" + std::to_string(getpid()) + "-" + std::to_string(n++) + ".sock";
}

Response echo(const Request& req) {
  nlohmann::json q = nlohmann::json::object();
  for (const auto& [k, v] : req.query) q[k] = v;
  return json_response(200, {{"method", req.method},
                             {"path", req.path},
                             {"query", q},
                             {"body", req.body},
                             {"uid", req.peer_uid}});
}

// Runs the server loop until `client` (in its own thread) returns.
void serve_while(UnixServer& server, const std::function<void()>& client,
                 const UnixServer::Handler& handle = echo) {
  std::atomic<bool> done{false};
  std::thread t([&] {
    client();
    done = true;
  });
  while (!done) server.poll_once(20, handle);
  t.join();
}

int raw_connect(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0)
    throw std::runtime_error(std::string("connect: ") + std::strerror(errno));
  return fd;
}

// Sends `bytes`, then reads until EOF (or reset).
std::string raw_exchange(const std::string& path, const std::string& bytes, bool half_close) {
  int fd = raw_connect(path);
  [[maybe_unused]] auto n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  if (half_close) shutdown(fd, SHUT_WR);
  std::string out;
  char buf[4096];
  ssize_t r;
  while ((r = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<std::size_t>(r));
  close(fd);
  return out;
}

TEST(UnixServer, RoundTripWithPeerCredentials) {
  UnixServer server(socket_path());
  Response resp;
  serve_while(server, [&] {
    Request req;
    req.method = "POST";
    req.path = "/v1/vms/web server";
    req.query = {{"dry_run", "1"}};
    req.body = R"({"a":1})";
    resp = http_call(server.path(), req, 5000);
  });
  ASSERT_EQ(resp.status, 200) << resp.body;
  EXPECT_EQ(resp.content_type, "application/json");
  auto j = nlohmann::json::parse(resp.body);
  EXPECT_EQ(j["method"], "POST");
  EXPECT_EQ(j["path"], "/v1/vms/web server");
  EXPECT_EQ(j["query"]["dry_run"], "1");
  EXPECT_EQ(j["body"], R"({"a":1})");
  EXPECT_EQ(j["uid"], static_cast<int>(getuid()));
}

TEST(UnixServer, SocketModeIs0660AndFileRemovedOnDestruction) {
  std::string path = socket_path();
  {
    UnixServer server(path);
    struct stat st {};
    ASSERT_EQ(stat(path.c_str(), &st), 0);
    EXPECT_TRUE(S_ISSOCK(st.st_mode));
    EXPECT_EQ(st.st_mode & 07777, 0660u);
  }
  EXPECT_NE(access(path.c_str(), F_OK), 0);
}

TEST(UnixServer, HundredConcurrentClientsEachGetTheirOwnAnswer) {
  UnixServer server(socket_path());
  std::atomic<int> good{0};
  serve_while(server, [&] {
    std::vector<std::thread> clients;
    for (int i = 0; i < 100; ++i)
      clients.emplace_back([&, i] {
        Request req;
        req.method = "PUT";
        req.path = "/client/" + std::to_string(i);
        req.body = std::string(static_cast<std::size_t>(i) * 100, 'x');
        try {
          auto r = http_call(server.path(), req, 10000);
          auto j = nlohmann::json::parse(r.body);
          if (r.status == 200 && j["path"] == req.path && j["body"] == req.body) ++good;
        } catch (const std::exception& e) {
          ADD_FAILURE() << e.what();
        }
      });
    for (auto& t : clients) t.join();
  });
  EXPECT_EQ(good, 100);
  EXPECT_EQ(server.connection_count(), 0u);
}

TEST(UnixServer, OversizeBodyGets413) {
  UnixServer server(socket_path());
  Response resp;
  serve_while(server, [&] {
    Request req;
    req.method = "POST";
    req.path = "/big";
    req.body = std::string(2 * 1024 * 1024, 'x');
    resp = http_call(server.path(), req, 5000);
  });
  EXPECT_EQ(resp.status, 413);
  EXPECT_EQ(nlohmann::json::parse(resp.body)["error"]["status"], 413);
}

TEST(UnixServer, GarbageGets400) {
  UnixServer server(socket_path());
  std::string a, b;
  serve_while(server, [&] {
    a = raw_exchange(server.path(), "\x16\x03\x01\x00\xa5\x01garbage", false);
    b = raw_exchange(server.path(), "GET / HTTP/1.1\r\n", true);  // truncated, then EOF
  });
  EXPECT_EQ(a.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << a;
  EXPECT_EQ(b.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << b;
}

TEST(UnixServer, HandlerExceptionIs500) {
  UnixServer server(socket_path());
  Response resp;
  serve_while(
      server,
      [&] {
        Request req;
        req.method = "GET";
        req.path = "/";
        resp = http_call(server.path(), req, 5000);
      },
      [](const Request&) -> Response { throw std::runtime_error("oops"); });
  EXPECT_EQ(resp.status, 500);
}

TEST(UnixServer, ExpectContinueGetsInterimAnswer) {
  UnixServer server(socket_path());
  std::string out;
  serve_while(server, [&] {
    int fd = raw_connect(server.path());
    std::string head = "POST /x HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    send(fd, head.data(), head.size(), MSG_NOSIGNAL);
    char buf[256];
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    out.assign(buf, static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    send(fd, "ok", 2, MSG_NOSIGNAL);
    while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
    close(fd);
  });
  EXPECT_EQ(out.rfind("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n", 0), 0u) << out;
}

TEST(UnixServer, IdleClientIsDropped) {
  UnixServer server(socket_path(), 0660, "", ServerLimits{256, std::chrono::milliseconds(200)});
  int fd = raw_connect(server.path());
  send(fd, "GET / HT", 8, MSG_NOSIGNAL);
  auto start = std::chrono::steady_clock::now();
  server.poll_once(50, echo);
  EXPECT_EQ(server.connection_count(), 1u);
  while (server.connection_count() > 0 &&
         std::chrono::steady_clock::now() - start < std::chrono::seconds(3))
    server.poll_once(1000, echo);
  EXPECT_EQ(server.connection_count(), 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(1));
  char c;
  EXPECT_LE(recv(fd, &c, 1, 0), 0);  // closed without an answer
  close(fd);
}

TEST(UnixServer, BeyondTheConnectionLimitGets503) {
  UnixServer server(socket_path(), 0660, "", ServerLimits{2, std::chrono::milliseconds(5000)});
  int a = raw_connect(server.path()), b = raw_connect(server.path());
  server.poll_once(50, echo);
  ASSERT_EQ(server.connection_count(), 2u);
  Response resp;
  serve_while(server, [&] {
    Request req;
    req.method = "GET";
    req.path = "/";
    resp = http_call(server.path(), req, 5000);
  });
  EXPECT_EQ(resp.status, 503);
  close(a);
  close(b);
}

TEST(UnixServer, ReportsReadableExtraFds) {
  UnixServer server(socket_path());
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  EXPECT_TRUE(server.poll_once(0, echo, {p[0]}).empty());
  ASSERT_EQ(write(p[1], "x", 1), 1);
  EXPECT_EQ(server.poll_once(1000, echo, {p[0]}), std::vector<int>{p[0]});
  close(p[0]);
  close(p[1]);
}

TEST(UnixServer, RefusesLiveSocketReplacesStaleOne) {
  std::string path = socket_path();
  {
    UnixServer live(path);
    EXPECT_THROW(UnixServer second(path), std::runtime_error);
    EXPECT_EQ(access(path.c_str(), F_OK), 0);  // the live one's file is still there
  }
  // A stale socket: bound, never listening, file left behind.
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  close(fd);
  EXPECT_NO_THROW(UnixServer replaced(path));
  // Not a socket: never deleted.
  { std::ofstream(path) << "precious"; }
  EXPECT_THROW(UnixServer refused(path), std::runtime_error);
  EXPECT_EQ(access(path.c_str(), F_OK), 0);
  unlink(path.c_str());
}

TEST(UnixServer, UnknownGroupAndLongPathAreErrors) {
  std::string path = socket_path();
  EXPECT_THROW(UnixServer s(path, 0660, "vmgw-no-such-group-xyz"), std::runtime_error);
  EXPECT_NE(access(path.c_str(), F_OK), 0);
  EXPECT_THROW(UnixServer s("/tmp/" + std::string(200, 'x')), std::runtime_error);
}

TEST(UnixServer, HttpCallExplainsConnectFailure) {
  try {
    Request req;
    req.method = "GET";
    req.path = "/";
    http_call("/tmp/vmgw-test-nobody-here.sock", req, 1000);
    FAIL() << "no exception";
  } catch (const std::runtime_error& e) {
    EXPECT_STREQ(e.what(),
                 "cannot connect to vmgwd at /tmp/vmgw-test-nobody-here.sock: No such file or "
                 "directory; is the daemon running?");
  }
}

}  // namespace
}  // namespace vmgw::api
