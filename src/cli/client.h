// The CLI as a thin client of vmgwd's API: one call, errors printed as the API states them,
// and the HTTP status turned into an exit code.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/http.h"

namespace vmgw::cli {

struct ApiResult {
  int exit_code = 0;    // see ExitCode in commands.h
  nlohmann::json body;  // the parsed response body (null if none or on connection failure)
};

using HttpExchange = std::function<api::Response(const std::string& socket, const api::Request&)>;

// Calls the daemon through `http`; on an error status prints "error: FIELD: REASON" lines to
// stderr.
ApiResult api_call(const HttpExchange& http, const std::string& socket, const std::string& method,
                   const std::string& path,
                   const std::optional<nlohmann::json>& body = std::nullopt,
                   const std::map<std::string, std::string>& query = {});
// The same over the daemon's Unix socket.
ApiResult api_call(const std::string& socket, const std::string& method, const std::string& path,
                   const std::optional<nlohmann::json>& body = std::nullopt,
                   const std::map<std::string, std::string>& query = {});

// --param NAME=VALUE arguments (a repeated NAME makes a list) -> {"NAME": value or [values]};
// prints the error and returns nullopt for one that is not NAME=VALUE.
std::optional<nlohmann::json> params_json(const std::vector<std::string>& params);

// A field of an API object as a table cell: "-" for null or empty, JSON for non-strings.
std::string cell(const nlohmann::json& j, const char* key);

// Prints a successful result as JSON (output "json") or through `human`; returns the exit code.
int show(const ApiResult& r, const std::string& output,
         const std::function<void(const nlohmann::json&)>& human);

// Log entries (GET /v1/log's "entries") one per line: JSON (output "json") or
// "TIME vm=VM DIRECTION VERDICT rule='RULE' PROTO SRC[:PORT] -> DST[:PORT]".
void print_log(const nlohmann::json& entries, const std::string& output);

// HTTP status -> exit code: 2xx 0, 400 1, 404 5, 409 6, 5xx 2, connection failure 3.
int exit_code_for_status(int status);

}  // namespace vmgw::cli
