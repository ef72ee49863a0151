#include "api/router.h"

#include <algorithm>
#include <exception>
#include <set>
#include <stdexcept>

namespace vmgw::api {
namespace {

bool is_param(const std::string& seg) {
  return seg.size() >= 2 && seg.front() == '{' && seg.back() == '}';
}

// Deeply nested JSON parses fine (nlohmann's parser is iterative) but recursive consumers such as
// dump() could exhaust the stack; no vmgw document needs more than a handful of levels.
constexpr int kMaxJsonDepth = 64;

bool too_deep(const std::string& body) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : body) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxJsonDepth) return true;
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return false;
}

}  // namespace

void Router::add(const std::string& method, const std::string& pattern, Handler handler) {
  if (method.empty() || pattern.empty() || pattern[0] != '/')
    throw std::invalid_argument("route pattern must start with '/': " + pattern);
  Route r{method, pattern, split_path(pattern), std::move(handler)};
  std::set<std::string> names;
  for (const auto& seg : r.segments) {
    bool braces = seg.find_first_of("{}") != std::string::npos;
    if (braces && (!is_param(seg) || seg.size() == 2 ||
                   seg.substr(1, seg.size() - 2).find_first_of("{}") != std::string::npos))
      throw std::invalid_argument("malformed route segment '" + seg + "' in " + pattern);
    if (is_param(seg) && !names.insert(seg).second)
      throw std::invalid_argument("duplicate parameter " + seg + " in " + pattern);
  }
  // "/v1/vms/{name}" and "/v1/vms/{id}" match the same paths: a duplicate too.
  auto same_shape = [&](const Route& o) {
    if (o.segments.size() != r.segments.size()) return false;
    for (std::size_t i = 0; i < o.segments.size(); ++i) {
      bool p1 = is_param(o.segments[i]), p2 = is_param(r.segments[i]);
      if (p1 != p2 || (!p1 && o.segments[i] != r.segments[i])) return false;
    }
    return true;
  };
  for (const auto& other : routes_)
    if (other.method == method && same_shape(other))
      throw std::invalid_argument("duplicate route " + method + " " + pattern);
  routes_.push_back(std::move(r));
}

bool Router::match(const Route& r, const std::vector<std::string>& path, Params* params) {
  if (r.segments.size() != path.size()) return false;
  for (std::size_t i = 0; i < path.size(); ++i) {
    const std::string& seg = r.segments[i];
    if (is_param(seg)) {
      (*params)[seg.substr(1, seg.size() - 2)] = path[i];
    } else if (seg != path[i]) {
      return false;
    }
  }
  return true;
}

Response Router::dispatch(const Request& req) const {
  const auto path = split_path(req.path);
  const Route* best = nullptr;
  Params best_params;
  std::set<std::string> allowed;
  // More specific: at the first segment where they differ in kind, the literal wins.
  auto more_specific = [](const Route& a, const Route& b) {
    for (std::size_t i = 0; i < a.segments.size(); ++i) {
      bool pa = is_param(a.segments[i]), pb = is_param(b.segments[i]);
      if (pa != pb) return !pa;
    }
    return false;
  };
  for (const auto& r : routes_) {
    Params p;
    if (!match(r, path, &p)) continue;
    allowed.insert(r.method);
    if (r.method != req.method) continue;
    if (best == nullptr || more_specific(r, *best)) {
      best = &r;
      best_params = std::move(p);
    }
  }
  if (best != nullptr) {
    try {
      return best->handler(req, best_params);
    } catch (const std::exception& e) {
      return error_response(500, "", std::string("internal error: ") + e.what());
    } catch (...) {
      return error_response(500, "", "internal error");
    }
  }
  if (allowed.empty()) return error_response(404, "", "no such endpoint: " + req.path);
  std::string allow;
  for (const auto& m : allowed) allow += (allow.empty() ? "" : ", ") + m;
  Response r = error_response(
      405, "",
      "method " + req.method + " is not allowed on " + req.path + " (allowed: " + allow + ")");
  r.headers["Allow"] = allow;
  return r;
}

Response json_response(int status, const nlohmann::json& body) {
  Response r;
  r.status = status;
  // replace: a handler echoing client bytes must never turn an answer into an exception.
  r.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  return r;
}

Response error_response(int status, const std::string& field, const std::string& reason) {
  return json_response(status,
                       {{"error", {{"status", status}, {"field", field}, {"reason", reason}}}});
}

Response error_response(int status,
                        const std::vector<std::pair<std::string, std::string>>& errors) {
  auto list = nlohmann::json::array();
  for (const auto& [field, reason] : errors) list.push_back({{"field", field}, {"reason", reason}});
  nlohmann::json e = {{"status", status},
                      {"errors", list},
                      {"field", errors.empty() ? "" : errors.front().first},
                      {"reason", errors.empty() ? "" : errors.front().second}};
  return json_response(status, {{"error", e}});
}

std::optional<nlohmann::json> parse_json_body(const Request& req, Response& error_out) {
  if (too_deep(req.body)) {
    error_out = error_response(
        400, "", "body is nested too deeply (max " + std::to_string(kMaxJsonDepth) + " levels)");
    return std::nullopt;
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(req.body);
  } catch (const nlohmann::json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1, column 2: <message>";
    // keep the message, report the byte offset instead of line/column.
    std::string what = e.what();
    std::size_t p = what.find("parse error");
    p = p == std::string::npos ? std::string::npos : what.find(": ", p);
    std::string msg = p == std::string::npos ? what : what.substr(p + 2);
    error_out = error_response(
        400, "", "body is not valid JSON: " + msg + " at byte " + std::to_string(e.byte));
    return std::nullopt;
  } catch (const nlohmann::json::exception& e) {
    error_out = error_response(400, "", std::string("body is not valid JSON: ") + e.what());
    return std::nullopt;
  }
  if (!j.is_object()) {
    error_out = error_response(400, "", "body must be a JSON object");
    return std::nullopt;
  }
  return j;
}

}  // namespace vmgw::api
