// A small, strict HTTP/1.1 for the vmgwd API on a Unix socket: value types, serialization and
// pure incremental parsers (no I/O here, so everything is unit-testable and fuzzable).
// One request per connection (Connection: close), bodies only by Content-Length.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/access.h"

namespace vmgw::api {

struct Request {
  std::string method;  // GET, POST, PUT, DELETE, PATCH
  std::string path;    // percent-decoded; never contains an encoded '/' or control characters
  std::map<std::string, std::string> query;    // decoded, '+' as space
  std::map<std::string, std::string> headers;  // names lower-cased
  std::string body;
  int peer_uid = -1;             // SO_PEERCRED of the client, set by UnixServer; -1 when unknown
  Access access = Access::full;  // what the client may do (access.h), set by UnixServer
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";  // empty: no Content-Type header
  std::string body;
  std::map<std::string, std::string> headers;  // extra headers (parsed responses: all, lower-cased)
};

// Limits of RequestParser (the daemon is local, but clients are not trusted).
inline constexpr std::size_t kMaxHeaderBytes = 16 * 1024;  // request line + headers + blank line
inline constexpr std::size_t kMaxBodyBytes = 1024 * 1024;
inline constexpr std::size_t kMaxHeaders = 100;

// "HTTP/1.1 <status> <reason>" with Content-Type, Content-Length and Connection: close.
std::string serialize(const Response& r);
// For the client: percent-encodes path and query; adds Host, Content-Length, Connection: close.
std::string serialize(const Request& r);

// Standard reason phrase ("Not Found"), "Unknown" for codes we do not use.
const char* status_reason(int status);

// "/v1/vms/web" -> {"v1", "vms", "web"}; empty segments (leading, trailing, "//") are dropped.
std::vector<std::string> split_path(const std::string& path);

// Percent-encoding of one path segment or query component (unreserved characters kept).
std::string percent_encode(std::string_view s);

class RequestParser {
 public:
  enum class State { need_more, complete, error };

  // Feeds the next bytes of the connection. Once complete or error, further bytes are ignored
  // (one request per connection).
  State feed(std::string_view bytes);
  State state() const { return state_; }

  const Request& request() const { return request_; }
  Request take_request() { return std::move(request_); }

  // On error: the status to answer (400, 411, 413, 414, 431, 501, 505) and why.
  int error_status() const { return error_status_; }
  const std::string& error_reason() const { return error_reason_; }

  // True once the headers are parsed and the client sent "Expect: 100-continue" while the body
  // is still to come: the server should send "HTTP/1.1 100 Continue" (curl waits 1 s otherwise).
  bool wants_continue() const;

 private:
  State fail(int status, std::string reason);
  State parse_head();  // request line + headers, from head_
  State parse_request_line(std::string_view line);
  State parse_query_pair(std::string_view pair);  // "k=v", "k" or "k="
  State parse_header_line(std::string_view line);
  State finish_headers();

  State state_ = State::need_more;
  bool head_done_ = false;
  std::string head_;           // bytes of the header section received so far
  std::size_t scanned_ = 0;    // head_ already searched for the terminator
  std::size_t body_size_ = 0;  // Content-Length
  std::size_t header_count_ = 0;
  Request request_;
  int error_status_ = 0;
  std::string error_reason_;
};

// Client side: status line, headers, then Content-Length bytes or everything up to EOF.
class ResponseParser {
 public:
  enum class State { need_more, complete, error };

  static constexpr std::size_t kMaxHeaderBytes = 64 * 1024;
  static constexpr std::size_t kMaxBodyBytes = 256 * 1024 * 1024;

  State feed(std::string_view bytes);
  // The peer closed the connection: completes a read-to-EOF body, errors when truncated.
  State finish();
  State state() const { return state_; }

  const Response& response() const { return response_; }
  Response take_response() { return std::move(response_); }
  const std::string& error_reason() const { return error_reason_; }

 private:
  State fail(std::string reason);
  State parse_head(std::string_view head);

  State state_ = State::need_more;
  bool head_done_ = false;
  bool has_length_ = false;
  std::size_t body_size_ = 0;
  std::string buf_;
  Response response_;
  std::string error_reason_;
};

}  // namespace vmgw::api
