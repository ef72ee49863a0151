#include "api/http.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

namespace vmgw::api {
namespace {

bool is_tchar(unsigned char c) {
  // RFC 9110 token characters.
  if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(),
                                   [](char c) { return is_tchar(static_cast<unsigned char>(c)); });
}

bool is_ctl(unsigned char c) {
  return c < 0x20 || c == 0x7f;
}

bool has_ctl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return is_ctl(static_cast<unsigned char>(c)); });
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Strict UTF-8 (no overlong forms, no surrogates, <= U+10FFFF): handlers put names from the
// path into JSON, and nlohmann::json refuses to dump invalid UTF-8.
bool valid_utf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    auto c = static_cast<unsigned char>(s[i]);
    std::size_t n = 0;
    std::uint32_t cp = 0;
    if (c < 0x80) {
      ++i;
      continue;
    } else if (c >= 0xc2 && c <= 0xdf) {
      n = 1, cp = c & 0x1fu;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2, cp = c & 0x0fu;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3, cp = c & 0x07u;
    } else {
      return false;
    }
    if (n > s.size() - i - 1) return false;  // truncated sequence
    for (std::size_t k = 1; k <= n; ++k) {
      auto cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3fu);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += n + 1;
  }
  return true;
}

// Decodes %XX escapes (and '+' as space in query components). False on a malformed escape, or
// on an encoded '/' when !allow_slash (it would change how the path splits into segments).
bool percent_decode(std::string_view in, bool plus_is_space, bool allow_slash, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '%') {
      if (in.size() - i < 3) return false;
      int hi = hex_value(in[i + 1]), lo = hex_value(in[i + 2]);
      if (hi < 0 || lo < 0) return false;
      char d = static_cast<char>(hi * 16 + lo);
      if (d == '/' && !allow_slash) return false;
      out += d;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      out += ' ';
    } else {
      out += c;
    }
  }
  return true;
}

std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Digits only, no sign or whitespace; false when malformed or above `max` (then `too_big`).
bool parse_length(std::string_view s, std::size_t max, std::size_t& out, bool& too_big) {
  too_big = false;
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return false;
  std::uint64_t v = 0;
  for (char c : s) {
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
    if (v > max) {  // stops long before overflow: max is far below 2^64 / 10
      too_big = true;
      return false;
    }
  }
  out = static_cast<std::size_t>(v);
  return true;
}

bool is_unreserved(unsigned char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

// Header values we emit must not smuggle line breaks or other control characters.
std::string sanitize_value(std::string_view v) {
  std::string out;
  for (char c : v)
    if (c == '\t' || !is_ctl(static_cast<unsigned char>(c))) out += c;
  return out;
}

}  // namespace

const char* status_reason(int status) {
  // clang-format off
  static constexpr std::pair<int, const char*> kReasons[] = {
      {100, "Continue"}, {200, "OK"}, {201, "Created"}, {202, "Accepted"}, {204, "No Content"},
      {304, "Not Modified"}, {400, "Bad Request"}, {401, "Unauthorized"}, {403, "Forbidden"},
      {404, "Not Found"}, {405, "Method Not Allowed"}, {408, "Request Timeout"}, {409, "Conflict"},
      {410, "Gone"}, {411, "Length Required"}, {412, "Precondition Failed"},
      {413, "Content Too Large"}, {414, "URI Too Long"}, {415, "Unsupported Media Type"},
      {422, "Unprocessable Content"}, {423, "Locked"}, {428, "Precondition Required"},
      {429, "Too Many Requests"}, {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"}, {501, "Not Implemented"}, {502, "Bad Gateway"},
      {503, "Service Unavailable"}, {504, "Gateway Timeout"}, {505, "HTTP Version Not Supported"},
  };
  // clang-format on
  for (const auto& [code, reason] : kReasons)
    if (code == status) return reason;
  return "Unknown";
}

std::string serialize(const Response& r) {
  int status = (r.status >= 100 && r.status <= 999) ? r.status : 500;
  // RFC 9110: no content (and no Content-Length) in 1xx, 204 and 304 answers.
  bool bodiless = status < 200 || status == 204 || status == 304;
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + status_reason(status) + "\r\n";
  if (!bodiless && !r.content_type.empty())
    out += "Content-Type: " + sanitize_value(r.content_type) + "\r\n";
  for (const auto& [name, value] : r.headers) {
    if (!is_token(name)) continue;
    std::string l = lower(name);
    if (l == "content-length" || l == "content-type" || l == "connection" ||
        l == "transfer-encoding")
      continue;  // framing is ours alone
    out += name + ": " + sanitize_value(value) + "\r\n";
  }
  if (!bodiless) out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  if (!bodiless) out += r.body;
  return out;
}

std::string percent_encode(std::string_view s) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (is_unreserved(u)) {
      out += c;
    } else {
      out += '%';
      out += kHex[u >> 4];
      out += kHex[u & 15];
    }
  }
  return out;
}

std::string serialize(const Request& r) {
  std::string target;
  for (const auto& seg : split_path(r.path)) target += "/" + percent_encode(seg);
  if (target.empty() || (!r.path.empty() && r.path.back() == '/')) target += "/";
  char sep = '?';
  for (const auto& [k, v] : r.query) {
    target += sep + percent_encode(k) + "=" + percent_encode(v);
    sep = '&';
  }
  std::string out = r.method + " " + target + " HTTP/1.1\r\n";
  auto host = r.headers.find("host");
  out += "Host: " +
         (host == r.headers.end() ? std::string("localhost") : sanitize_value(host->second)) +
         "\r\n";
  bool has_type = false;
  for (const auto& [name, value] : r.headers) {
    if (!is_token(name)) continue;
    std::string l = lower(name);
    if (l == "host" || l == "content-length" || l == "connection" || l == "transfer-encoding")
      continue;
    has_type = has_type || l == "content-type";
    out += name + ": " + sanitize_value(value) + "\r\n";
  }
  if (!r.body.empty() && !has_type) out += "Content-Type: application/json\r\n";
  if (!r.body.empty() || r.method == "POST" || r.method == "PUT" || r.method == "PATCH")
    out += "Content-Length: " + std::to_string(r.body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += r.body;
  return out;
}

std::vector<std::string> split_path(const std::string& path) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while (i <= path.size()) {
    std::size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// RequestParser

RequestParser::State RequestParser::fail(int status, std::string reason) {
  state_ = State::error;
  error_status_ = status;
  error_reason_ = std::move(reason);
  return state_;
}

bool RequestParser::wants_continue() const {
  if (!head_done_ || state_ != State::need_more) return false;
  auto it = request_.headers.find("expect");
  return it != request_.headers.end() && lower(it->second) == "100-continue";
}

RequestParser::State RequestParser::feed(std::string_view bytes) {
  if (state_ != State::need_more) return state_;
  if (!head_done_) {
    // Never hold more than the limit (+1 to notice overflow), whatever the chunk size.
    std::size_t take = std::min(bytes.size(), kMaxHeaderBytes + 1 - head_.size());
    head_.append(bytes.substr(0, take));
    bytes.remove_prefix(take);
    std::size_t end = 0;
    // Byte-wise checks as data arrives, so garbage fails fast instead of waiting for 16 KiB.
    for (std::size_t i = scanned_; i < head_.size() && end == 0; ++i) {
      auto c = static_cast<unsigned char>(head_[i]);
      if (i > 0 && head_[i - 1] == '\r' && c != '\n') return fail(400, "bare CR in header section");
      if (c == '\n') {
        if (i == 0 || head_[i - 1] != '\r') return fail(400, "bare LF in header section");
        if (i >= 3 && head_[i - 2] == '\n') end = i + 1;
      } else if (c != '\r' && c != '\t' && is_ctl(c)) {
        return fail(400, "control character in header section");
      }
    }
    scanned_ = end ? end : head_.size();
    if (end > kMaxHeaderBytes)
      return fail(431, "header section larger than " + std::to_string(kMaxHeaderBytes) + " bytes");
    if (end == 0) {
      if (head_.size() <= kMaxHeaderBytes) return state_;
      if (head_.find('\n') == std::string::npos)
        return fail(414, "request line longer than " + std::to_string(kMaxHeaderBytes) + " bytes");
      return fail(431, "header section larger than " + std::to_string(kMaxHeaderBytes) + " bytes");
    }
    // Whatever followed the blank line is the start of the body.
    std::string rest = head_.substr(end);
    rest.append(bytes);
    head_.resize(end);
    head_done_ = true;
    if (parse_head() != State::need_more) return state_;
    head_.clear();
    head_.shrink_to_fit();
    if (body_size_ == 0) return state_ = State::complete;
    return feed(rest);
  }
  std::size_t take = std::min(bytes.size(), body_size_ - request_.body.size());
  request_.body.append(bytes.substr(0, take));
  // Bytes after the body are ignored: one request per connection, no pipelining.
  if (request_.body.size() == body_size_) state_ = State::complete;
  return state_;
}

RequestParser::State RequestParser::parse_head() {
  std::string_view head(head_);
  head.remove_suffix(2);  // the blank line's CRLF; every remaining line ends with CRLF
  std::size_t eol = head.find("\r\n");
  if (parse_request_line(head.substr(0, eol)) != State::need_more) return state_;
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    if (parse_header_line(head.substr(0, eol)) != State::need_more) return state_;
    head.remove_prefix(eol + 2);
  }
  return finish_headers();
}

RequestParser::State RequestParser::parse_request_line(std::string_view line) {
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.find(' ', sp2 + 1) != std::string_view::npos)
    return fail(400, "malformed request line");
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);

  if (!is_token(method)) return fail(400, "malformed method");
  static constexpr std::array<std::string_view, 5> kMethods = {"GET", "POST", "PUT", "DELETE",
                                                               "PATCH"};
  if (std::find(kMethods.begin(), kMethods.end(), method) == kMethods.end())
    return fail(501, "method " + std::string(method) + " is not supported");
  request_.method = method;

  if (version != "HTTP/1.1" && version != "HTTP/1.0") {
    bool looks_http = version.size() == 8 && version.substr(0, 5) == "HTTP/" && version[5] >= '0' &&
                      version[5] <= '9' && version[6] == '.' && version[7] >= '0' &&
                      version[7] <= '9';
    return looks_http ? fail(505, "only HTTP/1.1 is supported")
                      : fail(400, "malformed HTTP version");
  }

  if (target.empty() || target[0] != '/')
    return fail(400, "request target must be an absolute path such as /v1/vms");
  for (char c : target) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return fail(400, "invalid character in request target");
    if (c == '#') return fail(400, "fragment in request target");
  }
  std::size_t q = target.find('?');
  std::string_view raw_path = target.substr(0, q);
  if (!percent_decode(raw_path, false, false, request_.path))
    return fail(400, "invalid percent-encoding in path (or an encoded '/')");
  if (has_ctl(request_.path) || !valid_utf8(request_.path))
    return fail(400, "path contains control characters or invalid UTF-8");
  if (q == std::string_view::npos) return state_;

  std::string_view query = target.substr(q + 1);
  for (;;) {
    std::size_t amp = query.find('&');
    // Empty pairs ("a=1&&b=2", trailing '&') are skipped.
    if (amp != 0 && !query.empty() && parse_query_pair(query.substr(0, amp)) != State::need_more)
      return state_;
    if (amp == std::string_view::npos) return state_;
    query.remove_prefix(amp + 1);
  }
}

RequestParser::State RequestParser::parse_query_pair(std::string_view pair) {
  std::size_t eq = pair.find('=');
  std::string key, value;
  if (!percent_decode(pair.substr(0, eq), true, true, key) ||
      (eq != std::string_view::npos && !percent_decode(pair.substr(eq + 1), true, true, value)))
    return fail(400, "invalid percent-encoding in query");
  if (key.empty()) return fail(400, "empty query parameter name");
  if (has_ctl(key) || has_ctl(value) || !valid_utf8(key) || !valid_utf8(value))
    return fail(400, "query contains control characters or invalid UTF-8");
  // Strict: a repeated parameter is ambiguous (first? last? list?), so it is an error.
  if (!request_.query.emplace(std::move(key), std::move(value)).second)
    return fail(400, "duplicate query parameter");
  return state_;
}

RequestParser::State RequestParser::parse_header_line(std::string_view line) {
  if (!line.empty() && (line[0] == ' ' || line[0] == '\t'))
    return fail(400, "obsolete header line folding is not allowed");
  if (++header_count_ > kMaxHeaders)
    return fail(431, "more than " + std::to_string(kMaxHeaders) + " headers");
  std::size_t colon = line.find(':');
  if (colon == std::string_view::npos || !is_token(line.substr(0, colon)))
    return fail(400, "malformed header line");
  std::string name = lower(line.substr(0, colon));
  std::string value(trim_ows(line.substr(colon + 1)));
  auto [it, inserted] = request_.headers.emplace(name, value);
  if (!inserted) {
    // Framing headers twice are a classic smuggling vector; others combine as a list.
    if (name == "content-length" || name == "host" || name == "transfer-encoding")
      return fail(400, "duplicate " + name + " header");
    it->second += ", " + value;
  }
  return state_;
}

RequestParser::State RequestParser::finish_headers() {
  const auto& h = request_.headers;
  if (h.count("transfer-encoding"))
    return fail(411, "Transfer-Encoding is not supported; send the body with Content-Length");
  auto cl = h.find("content-length");
  if (cl == h.end()) return state_;  // no body
  bool too_big = false;
  if (!parse_length(cl->second, kMaxBodyBytes, body_size_, too_big)) {
    if (too_big) return fail(413, "body larger than " + std::to_string(kMaxBodyBytes) + " bytes");
    return fail(400, "invalid Content-Length");
  }
  return state_;
}

// ---------------------------------------------------------------------------------------------
// ResponseParser

ResponseParser::State ResponseParser::fail(std::string reason) {
  state_ = State::error;
  error_reason_ = std::move(reason);
  return state_;
}

ResponseParser::State ResponseParser::feed(std::string_view bytes) {
  if (state_ != State::need_more) return state_;
  if (head_done_) {
    std::size_t limit = has_length_ ? body_size_ : kMaxBodyBytes;
    std::size_t take = std::min(bytes.size(), limit - response_.body.size());
    response_.body.append(bytes.substr(0, take));
    if (has_length_ && response_.body.size() == body_size_) return state_ = State::complete;
    if (!has_length_ && take < bytes.size()) return fail("response body too large");
    return state_;
  }
  std::size_t from = buf_.size() >= 3 ? buf_.size() - 3 : 0;
  buf_.append(bytes);
  std::size_t end = buf_.find("\r\n\r\n", from);
  if (end == std::string::npos) {
    if (buf_.size() > kMaxHeaderBytes) return fail("response header section too large");
    return state_;
  }
  std::string head = buf_.substr(0, end + 2);
  std::string rest = buf_.substr(end + 4);
  buf_.clear();
  if (parse_head(head) != State::need_more) return state_;
  if (response_.status < 200) {  // interim (100 Continue): the real answer follows
    response_ = Response{};
    has_length_ = false;
    body_size_ = 0;
    return feed(rest);
  }
  head_done_ = true;
  if (has_length_ && body_size_ == 0) return state_ = State::complete;
  return feed(rest);
}

ResponseParser::State ResponseParser::parse_head(std::string_view head) {
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  // "HTTP/1.x SSS[ reason]"
  if (line.size() < 12 || line.substr(0, 7) != "HTTP/1." || line[7] < '0' || line[7] > '9' ||
      line[8] != ' ' || (line.size() > 12 && line[12] != ' '))
    return fail("malformed status line");
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return fail("malformed status code");
    status = status * 10 + (line[i] - '0');
  }
  if (status < 100) return fail("malformed status code");
  response_.status = status;
  response_.content_type.clear();
  head.remove_prefix(eol + 2);
  while (!head.empty()) {
    eol = head.find("\r\n");
    std::string_view h = head.substr(0, eol);
    head.remove_prefix(eol + 2);
    std::size_t colon = h.find(':');
    if (colon == std::string_view::npos || !is_token(h.substr(0, colon)))
      return fail("malformed header line");
    std::string name = lower(h.substr(0, colon));
    std::string value(trim_ows(h.substr(colon + 1)));
    auto [it, inserted] = response_.headers.emplace(name, value);
    if (!inserted) {
      if (name == "content-length") return fail("duplicate Content-Length");
      it->second += ", " + value;
    }
  }
  const auto& hs = response_.headers;
  if (hs.count("transfer-encoding")) return fail("Transfer-Encoding responses are not supported");
  if (auto ct = hs.find("content-type"); ct != hs.end()) response_.content_type = ct->second;
  bool bodiless = status < 200 || status == 204 || status == 304;
  if (bodiless) {
    has_length_ = true;
    body_size_ = 0;
  } else if (auto cl = hs.find("content-length"); cl != hs.end()) {
    bool too_big = false;
    if (!parse_length(cl->second, kMaxBodyBytes, body_size_, too_big))
      return fail(too_big ? "response body too large" : "invalid Content-Length");
    has_length_ = true;
  }
  return state_;
}

ResponseParser::State ResponseParser::finish() {
  if (state_ != State::need_more) return state_;
  if (head_done_ && !has_length_) return state_ = State::complete;
  return fail("connection closed before the response was complete");
}

}  // namespace vmgw::api
