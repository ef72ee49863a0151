#include "cli/filter_import.h"

#include <iostream>
#include <map>

#include "cli/client.h"
#include "cli/commands.h"

namespace vmgw::cli {
namespace {

using Json = nlohmann::json;

// The errors of a refusal, as the API gives them ({"error": {"errors": [...]}} or one).
std::vector<std::string> refusal_reasons(const Json& body, int status) {
  std::vector<std::string> out;
  const Json err = body.is_object() ? body.value("error", Json::object()) : Json::object();
  auto text = [](const Json& e) {
    std::string field = e.value("field", "");
    return (field.empty() ? "" : field + ": ") + e.value("reason", "");
  };
  if (err.contains("errors"))
    for (const auto& e : err["errors"]) out.push_back(text(e));
  else if (err.contains("reason"))
    out.push_back(text(err));
  else
    out.push_back("HTTP " + std::to_string(status));
  return out;
}

}  // namespace

std::string defined_text(const Json& d) {
  const std::string name = cell(d, "name");
  const std::string outcome = d.value("outcome", d.value("replaced", false) ? "redefined" : "");
  std::string out = "filter " + name;
  if (outcome == "unchanged") {
    out += " unchanged (the same content as the one in force)";
  } else if (outcome == "replaces-builtin") {
    out += " defined: it replaces the built-in '" + name + "'";
    if (d.contains("differs_from_builtin"))
      out += " (" + d["differs_from_builtin"].get<std::string>() + ")";
    out += "; vmgw filter undefine " + name + " restores the built-in";
  } else if (outcome == "restores-builtin") {
    out += ": the replacement is gone, the built-in '" + name + "' is back";
  } else if (outcome == "undefined") {
    out += " undefined";
  } else {
    out += outcome == "redefined" ? " redefined" : " defined";
  }
  if (d.contains("vms_updated") && !d["vms_updated"].empty()) {
    out += "; rules of vm";
    for (const auto& v : d["vms_updated"]) out += " " + v.get<std::string>();
    out += " updated in one transaction";
  }
  if (d.value("flows_cut", 0) > 0)
    out += "; " + std::to_string(d["flows_cut"].get<int>()) +
           " established flows it no longer allows cut";
  return out;
}

int import_filters(const DaemonOptions& o, const std::vector<filter::FilterSource>& sources) {
  int rc = kOk;
  Json report = Json::array();
  std::map<std::string, int> counts;
  for (std::size_t i : filter::definition_order(sources)) {
    const filter::FilterSource& s = sources[i];
    api::Request req;
    req.method = "POST";
    req.path = "/v1/filters";
    req.body = Json{{"xml", s.xml}}.dump();
    req.headers["content-type"] = "application/json";
    api::Response resp;
    try {
      resp = o.io->http(o.socket, req);
    } catch (const std::exception& e) {
      std::cerr << "error: " << e.what() << "\n";
      return kEnvironment;
    }
    Json body = Json::parse(resp.body, nullptr, false);
    if (body.is_discarded()) body = nullptr;
    const int code = exit_code_for_status(resp.status);
    Json line{{"origin", s.origin}};
    if (code == kOk) {
      if (body.is_object()) line.update(body);
      ++counts[body.value("outcome", "defined")];
      if (o.output != "json") std::cout << s.origin << ": " << defined_text(body) << "\n";
    } else {
      if (rc == kOk) rc = code;
      ++counts["refused"];
      line["outcome"] = "refused";
      line["errors"] = refusal_reasons(body, resp.status);
      if (o.output != "json")
        for (const auto& why : line["errors"])
          std::cout << s.origin << ": refused: " << why.get<std::string>() << "\n";
    }
    report.push_back(std::move(line));
  }
  if (o.output == "json") {
    std::cout << report.dump(2) << "\n";
    return rc;
  }
  std::string summary;
  for (const auto& [outcome, n] : counts)
    summary += (summary.empty() ? "" : ", ") + std::to_string(n) + " " + outcome;
  std::cout << sources.size() << " filter" << (sources.size() == 1 ? "" : "s") << ": "
            << (summary.empty() ? "none given" : summary) << "\n";
  return rc;
}

}  // namespace vmgw::cli
