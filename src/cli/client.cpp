#include "cli/client.h"

#include <iostream>

#include "api/unix_client.h"
#include "cli/commands.h"

namespace vmgw::cli {

int exit_code_for_status(int status) {
  if (status >= 200 && status < 300) return kOk;
  if (status == 404) return kNotFound;
  if (status == 409) return kConflict;
  if (status == 403) return kForbidden;
  if (status == 429) return kEnvironment;  // this user holds its share of connections: retry
  if (status >= 400 && status < 500) return kInvalidInput;
  return kKernelRefused;
}

ApiResult api_call(const std::string& socket, const std::string& method, const std::string& path,
                   const std::optional<nlohmann::json>& body,
                   const std::map<std::string, std::string>& query) {
  return api_call([](const std::string& s, const api::Request& r) { return api::http_call(s, r); },
                  socket, method, path, body, query);
}

ApiResult api_call(const HttpExchange& http, const std::string& socket, const std::string& method,
                   const std::string& path, const std::optional<nlohmann::json>& body,
                   const std::map<std::string, std::string>& query) {
  api::Request req;
  req.method = method;
  req.path = path;
  req.query = query;
  if (body) {
    req.body = body->dump();
    req.headers["content-type"] = "application/json";
  }
  api::Response resp;
  try {
    resp = http(socket, req);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return {kEnvironment, nullptr};
  }
  ApiResult r{exit_code_for_status(resp.status), nlohmann::json::parse(resp.body, nullptr, false)};
  if (r.body.is_discarded()) r.body = nullptr;
  if (r.exit_code != kOk) {
    const auto& err = r.body.is_object() ? r.body.value("error", nlohmann::json::object())
                                         : nlohmann::json::object();
    auto print = [](const nlohmann::json& e) {
      std::string field = e.value("field", "");
      std::cerr << "error: " << (field.empty() ? "" : field + ": ") << e.value("reason", "")
                << "\n";
    };
    if (err.contains("errors")) {
      for (const auto& e : err["errors"]) print(e);
    } else if (err.contains("reason")) {
      print(err);
    } else {
      std::cerr << "error: HTTP " << resp.status << "\n";
    }
  }
  return r;
}

// --param NAME=VALUE (repeatable; a repeated NAME makes a list) -> {"NAME": value or [values]}.
std::optional<nlohmann::json> params_json(const std::vector<std::string>& params) {
  nlohmann::json out = nlohmann::json::object();
  for (const auto& p : params) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "error: --param: '" << p << "' is not NAME=VALUE\n";
      return std::nullopt;
    }
    std::string name = p.substr(0, eq), value = p.substr(eq + 1);
    if (!out.contains(name)) {
      out[name] = value;
    } else {
      if (!out[name].is_array()) out[name] = nlohmann::json::array({out[name]});
      out[name].push_back(value);
    }
  }
  return out;
}

std::string cell(const nlohmann::json& j, const char* key) {
  if (!j.contains(key) || j[key].is_null()) return "-";
  if (j[key].is_string())
    return j[key].get<std::string>().empty() ? "-" : j[key].get<std::string>();
  return j[key].dump();
}

int show(const ApiResult& r, const std::string& output,
         const std::function<void(const nlohmann::json&)>& human) {
  if (r.exit_code != kOk) return r.exit_code;
  if (output == "json") {
    std::cout << r.body.dump(2) << "\n";
  } else {
    human(r.body);
  }
  return kOk;
}

void print_log(const nlohmann::json& entries, const std::string& output) {
  for (const auto& e : entries) {
    if (output == "json") {
      std::cout << e.dump() << "\n";
      continue;
    }
    std::string tuple = cell(e, "proto") + " " + cell(e, "src");
    if (e.value("sport", 0) > 0) tuple += ":" + cell(e, "sport");
    tuple += " -> " + cell(e, "dst");
    if (e.value("dport", 0) > 0) tuple += ":" + cell(e, "dport");
    std::cout << cell(e, "time") << " vm=" << cell(e, "vm") << " " << cell(e, "direction") << " "
              << cell(e, "verdict") << " rule='" << cell(e, "rule") << "' " << tuple << "\n";
  }
  std::cout.flush();
}

}  // namespace vmgw::cli
