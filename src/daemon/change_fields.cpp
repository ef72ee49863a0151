#include "daemon/change_fields.h"

#include <map>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/http.h"

namespace vmgw::daemon {
namespace {

std::string singular(const std::string& kind) {
  static const std::map<std::string, std::string> known = {
      {"vms", "vm"},         {"eips", "eip"},     {"forwards", "forward"},
      {"filters", "filter"}, {"leases", "lease"}, {"uplinks", "uplink"}};
  auto it = known.find(kind);
  return it != known.end() ? it->second : kind;
}

}  // namespace

LogFields change_fields(const std::string& method, const std::string& path,
                        const std::string& response_body) {
  auto parts = api::split_path(path);
  if (!parts.empty() && parts.front() == "v1") parts.erase(parts.begin());
  LogFields f;
  if (parts.empty()) return f;
  f.object = singular(parts[0]);
  if (parts.size() >= 2) {
    f.object += "/" + parts[1];
  } else {
    auto body = nlohmann::json::parse(response_body, nullptr, false);
    if (body.is_object())
      for (const char* key : {"name", "address"})
        if (body.contains(key) && body[key].is_string()) {
          f.object += "/" + body[key].get<std::string>();
          break;
        }
  }
  if (parts.size() >= 3)
    f.change = parts.back();
  else if (method == "POST")
    f.change = "add";
  else if (method == "PATCH" || method == "PUT")
    f.change = "set";
  else if (method == "DELETE")
    f.change = "remove";
  else
    f.change = method;
  return f;
}

}  // namespace vmgw::daemon
