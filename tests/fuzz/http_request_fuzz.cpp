// libFuzzer target: RequestParser on arbitrary bytes in arbitrary chunk splits, then the router
// and the serializers. Besides crashes and sanitizer reports it checks invariants (abort() on
// violation): the split never changes the outcome, and a parsed request re-serializes into one
// that parses back to the same method, path, query and body.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "api/http.h"
#include "api/router.h"

using namespace vmgw::api;

namespace {

const Router& router() {
  static const Router r = [] {
    Router x;
    auto h = [](const Request& req, const Params& p) {
      nlohmann::json j = {{"path", req.path}, {"params", p}, {"query", req.query}};
      Response err;
      if (!req.body.empty() && !parse_json_body(req, err)) return err;
      return json_response(200, j);
    };
    x.add("GET", "/v1/vms", h);
    x.add("POST", "/v1/vms", h);
    x.add("GET", "/v1/vms/{name}", h);
    x.add("DELETE", "/v1/vms/{name}", h);
    x.add("POST", "/v1/eips/{address}/bind", h);
    x.add("GET", "/v1/{kind}/_count", h);
    return x;
  }();
  return r;
}

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte seeds the chunk sizes; the rest is the connection's byte stream.
  uint32_t seed = data[0] * 2654435761u + 1;
  std::string_view in(reinterpret_cast<const char*>(data + 1), size - 1);

  RequestParser whole;
  whole.feed(in);

  RequestParser split;
  std::size_t off = 0;
  while (off < in.size() && split.state() == RequestParser::State::need_more) {
    seed ^= seed << 13, seed ^= seed >> 17, seed ^= seed << 5;  // xorshift32
    std::size_t n = 1 + seed % 64;
    split.feed(in.substr(off, n));
    off += n;
  }
  check(split.state() == whole.state());
  if (whole.state() == RequestParser::State::error) {
    check(split.error_status() == whole.error_status());
    check(split.error_reason() == whole.error_reason());
    // The server's answer must itself be a valid response.
    ResponseParser rp;
    rp.feed(serialize(error_response(whole.error_status(), "", whole.error_reason())));
    check(rp.state() == ResponseParser::State::complete);
    return 0;
  }
  if (whole.state() != RequestParser::State::complete) return 0;

  const Request& a = whole.request();
  const Request& b = split.request();
  check(a.method == b.method && a.path == b.path && a.query == b.query && a.headers == b.headers &&
        a.body == b.body);

  Response resp = router().dispatch(a);
  ResponseParser rp;
  rp.feed(serialize(resp));
  check(rp.state() == ResponseParser::State::complete && rp.response().status == resp.status &&
        rp.response().body == resp.body);

  // Client serialization round trip (only the fields that define the request).
  Request c;
  c.method = a.method;
  c.path = a.path;
  c.query = a.query;
  c.body = a.body;
  std::string wire = serialize(c);
  if (wire.size() - c.body.size() < kMaxHeaderBytes) {
    RequestParser again;
    again.feed(wire);
    check(again.state() == RequestParser::State::complete);
    const Request& d = again.request();
    check(d.method == c.method && d.query == c.query && d.body == c.body);
    check(split_path(d.path) == split_path(c.path));
  }
  return 0;
}
