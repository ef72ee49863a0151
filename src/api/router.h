// Method + path-pattern routing for the vmgwd API, and the JSON response/error conventions every
// handler shares: {"error": {"status", "field", "reason"}} (+ "errors" when there are several).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http.h"

namespace vmgw::api {

using Params = std::map<std::string, std::string>;  // {name} in the pattern -> decoded segment
using Handler = std::function<Response(const Request&, const Params&)>;

class Router {
 public:
  // Pattern: "/v1/vms/{name}"; literal segments and whole-segment {params}. Throws
  // std::invalid_argument on a malformed pattern or a duplicate method+pattern.
  void add(const std::string& method, const std::string& pattern, Handler handler);

  // 404 for an unknown path, 405 (with Allow) for a known path and another method; a literal
  // segment beats a {param} ("/v1/vms/_all" before "/v1/vms/{name}"). Handler exceptions
  // become a 500 JSON error, so one bad handler cannot take the daemon down.
  Response dispatch(const Request& req) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" kept verbatim for params
    Handler handler;
  };
  static bool match(const Route& r, const std::vector<std::string>& path, Params* params);
  std::vector<Route> routes_;
};

// Serialized JSON (invalid UTF-8 replaced, never throws) with a trailing newline.
Response json_response(int status, const nlohmann::json& body);
// {"error": {"status": 400, "field": "vm.mac", "reason": "..."}}; field may be empty.
Response error_response(int status, const std::string& field, const std::string& reason);
// Several errors: {"error": {"status", "errors": [{"field", "reason"}...], "field": <first>,
// "reason": <first>}} so clients reading only field/reason still show something useful.
Response error_response(int status, const std::vector<std::pair<std::string, std::string>>& errors);

// The body as a JSON object; otherwise nullopt and error_out is a 400 ("body is not valid JSON:
// <message> at byte N", "body must be a JSON object", or too deeply nested).
std::optional<nlohmann::json> parse_json_body(const Request& req, Response& error_out);

}  // namespace vmgw::api
