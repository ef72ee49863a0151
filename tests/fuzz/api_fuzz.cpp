// libFuzzer target: sequences of API requests (the bodies are JSON from the fuzzer) through the
// daemon's real router and Gateway, over fake kernel backends and an in-memory store. Besides
// crashes and sanitizer reports it checks the API's promises (abort() on violation):
//   - every answer is a well-formed response whose body, if any, is JSON;
//   - no request makes the daemon fail (5xx): bad input is the client's error, never ours;
//   - a refused request (4xx) changes nothing: neither the store nor the kernel (no batch);
//   - after an accepted one, the kernel holds exactly what the store says (a heal writes nothing).
//
// Input: requests separated by a line "%%"; each is "METHOD TARGET" on its first line and the
// body after it, e.g. "POST /v1/vms\n{\"name\":\"web\",...}\n%%\nGET /v1/vms".
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "api/http.h"
#include "fake_daemon.h"

using namespace vmgw;
using fuzz::check;

namespace {

// "METHOD TARGET\nBODY" -> the request as the socket would deliver it, or nothing if the HTTP
// layer itself refuses it (the HTTP fuzzer covers that).
std::optional<api::Request> to_request(std::string_view text) {
  auto nl = text.find('\n');
  std::string_view line = text.substr(0, nl);
  std::string_view body = nl == std::string_view::npos ? "" : text.substr(nl + 1);
  std::string wire = std::string(line) +
                     " HTTP/1.1\r\nHost: vmgwd\r\nContent-Length: " + std::to_string(body.size()) +
                     "\r\n";
  if (!body.empty()) wire += "Content-Type: application/json\r\n";
  wire += "\r\n";
  wire += body;
  api::RequestParser p;
  p.feed(wire);
  if (p.state() != api::RequestParser::State::complete) return std::nullopt;
  return p.take_request();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  fuzz::Daemon d;
  int requests = 0;
  while (!in.empty() && requests++ < 16) {
    auto sep = in.find("\n%%\n");
    std::string_view one = in.substr(0, sep);
    in = sep == std::string_view::npos ? std::string_view() : in.substr(sep + 4);
    auto req = to_request(one);
    if (!req) continue;

    const auto stored_before = d.store->load();
    const int batches_before = d.nft.batches_applied;
    api::Response resp = d.router.dispatch(*req);

    const std::string what =
        req->method + " " + req->path + " -> " + std::to_string(resp.status) + " " + resp.body;
    check(resp.status >= 200 && resp.status < 500, "the daemon failed: " + what);
    api::ResponseParser rp;
    rp.feed(api::serialize(resp));
    check(rp.state() == api::ResponseParser::State::complete, "malformed response: " + what);
    if (!resp.body.empty() && resp.content_type == "application/json")
      check(nlohmann::json::accept(resp.body), "body is not JSON: " + what);
    if (resp.status >= 400) {
      check(d.store->load() == stored_before, "a refused request changed the store: " + what);
      // The fake counts the batches it accepted: none may have been written for a refusal.
      check(d.nft.batches_applied == batches_before,
            "a refused request changed the kernel: " + what);
    } else if (req->method != "GET") {
      check(!d.gw->heal().changed(), "the kernel differs from the store after: " + what);
    }
  }
  return 0;
}
