// Router dispatch (params, specificity, 404/405, handler failures) and the shared JSON helpers.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>

#include "api/router.h"

namespace vmgw::api {
namespace {

using nlohmann::json;

Request make(const std::string& method, const std::string& path, const std::string& body = "") {
  Request r;
  r.method = method;
  r.path = path;
  r.body = body;
  return r;
}

Handler echo(const std::string& tag) {
  return [tag](const Request& req, const Params& p) {
    json params = json::object();
    for (const auto& [k, v] : p) params[k] = v;
    return json_response(200, {{"route", tag}, {"method", req.method}, {"params", params}});
  };
}

json body_of(const Response& r) {
  return json::parse(r.body);
}

TEST(Router, DispatchesWithPathParams) {
  Router r;
  r.add("GET", "/v1/vms", echo("list"));
  r.add("GET", "/v1/vms/{name}", echo("get"));
  r.add("POST", "/v1/eips/{address}/bind", echo("bind"));
  auto a = r.dispatch(make("GET", "/v1/vms"));
  EXPECT_EQ(a.status, 200);
  EXPECT_EQ(body_of(a)["route"], "list");
  auto b = body_of(r.dispatch(make("GET", "/v1/vms/web server")));
  EXPECT_EQ(b["route"], "get");
  EXPECT_EQ(b["params"]["name"], "web server");
  auto c = body_of(r.dispatch(make("POST", "/v1/eips/203.0.113.5/bind")));
  EXPECT_EQ(c["params"]["address"], "203.0.113.5");
  // Trailing slash and doubled slashes are the same path.
  EXPECT_EQ(body_of(r.dispatch(make("GET", "/v1//vms/")))["route"], "list");
}

TEST(Router, LiteralSegmentBeatsParamWhateverTheOrder) {
  Router r;
  r.add("GET", "/v1/{kind}/{name}", echo("generic"));
  r.add("GET", "/v1/vms/{name}", echo("vm"));
  r.add("GET", "/v1/vms/_count", echo("count"));
  EXPECT_EQ(body_of(r.dispatch(make("GET", "/v1/vms/_count")))["route"], "count");
  EXPECT_EQ(body_of(r.dispatch(make("GET", "/v1/vms/web")))["route"], "vm");
  EXPECT_EQ(body_of(r.dispatch(make("GET", "/v1/eips/x")))["route"], "generic");
}

TEST(Router, UnknownPathIs404Json) {
  Router r;
  r.add("GET", "/v1/vms", echo("list"));
  auto resp = r.dispatch(make("GET", "/v1/nope"));
  EXPECT_EQ(resp.status, 404);
  EXPECT_EQ(resp.content_type, "application/json");
  auto e = body_of(resp)["error"];
  EXPECT_EQ(e["status"], 404);
  EXPECT_NE(e["reason"].get<std::string>().find("/v1/nope"), std::string::npos);
}

TEST(Router, KnownPathOtherMethodIs405WithAllow) {
  Router r;
  r.add("GET", "/v1/vms/{name}", echo("get"));
  r.add("DELETE", "/v1/vms/{name}", echo("del"));
  r.add("POST", "/v1/vms", echo("create"));
  auto resp = r.dispatch(make("PUT", "/v1/vms/web"));
  EXPECT_EQ(resp.status, 405);
  EXPECT_EQ(resp.headers.at("Allow"), "DELETE, GET");
  EXPECT_EQ(body_of(resp)["error"]["status"], 405);
}

TEST(Router, HandlerExceptionsBecome500) {
  Router r;
  r.add("GET", "/boom",
        [](const Request&, const Params&) -> Response { throw std::runtime_error("kaput"); });
  r.add("GET", "/int", [](const Request&, const Params&) -> Response { throw 42; });
  auto a = r.dispatch(make("GET", "/boom"));
  EXPECT_EQ(a.status, 500);
  EXPECT_EQ(body_of(a)["error"]["reason"], "internal error: kaput");
  EXPECT_EQ(r.dispatch(make("GET", "/int")).status, 500);
}

TEST(Router, RejectsBadPatternsAndDuplicates) {
  Router r;
  r.add("GET", "/v1/vms/{name}", echo("a"));
  EXPECT_THROW(r.add("GET", "/v1/vms/{other}", echo("b")), std::invalid_argument);
  EXPECT_NO_THROW(r.add("DELETE", "/v1/vms/{name}", echo("b")));
  for (const char* bad :
       {"v1/vms", "", "/v1/{}", "/v1/{a", "/v1/a}", "/v1/x{a}", "/{a}/{a}", "/{{a}}"})
    EXPECT_THROW(r.add("GET", bad, echo("c")), std::invalid_argument) << bad;
}

TEST(Router, ErrorResponseShapes) {
  auto one = body_of(error_response(400, "vm.mac", "is not a MAC address"));
  EXPECT_EQ(
      one,
      json::parse(R"({"error":{"status":400,"field":"vm.mac","reason":"is not a MAC address"}})"));
  auto empty_field = body_of(error_response(409, "", "busy"));
  EXPECT_EQ(empty_field["error"]["field"], "");
  auto many = body_of(error_response(422, {{"vm.mac", "bad mac"}, {"vm.ip", "bad ip"}}));
  EXPECT_EQ(many, json::parse(R"({"error":{"status":422,"field":"vm.mac","reason":"bad mac",
      "errors":[{"field":"vm.mac","reason":"bad mac"},{"field":"vm.ip","reason":"bad ip"}]}})"));
  auto none = body_of(error_response(400, std::vector<std::pair<std::string, std::string>>{}));
  EXPECT_TRUE(none["error"]["errors"].empty());
}

TEST(Router, JsonResponseNeverThrowsOnBadUtf8) {
  Response r;
  ASSERT_NO_THROW(r = json_response(200, {{"name", "\xff\xfe"}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body.back(), '\n');
  EXPECT_NO_THROW(body_of(r));
}

TEST(Router, ParseJsonBody) {
  Response err;
  auto ok = parse_json_body(make("POST", "/", R"({"name": "web"})"), err);
  ASSERT_TRUE(ok);
  EXPECT_EQ((*ok)["name"], "web");

  EXPECT_FALSE(parse_json_body(make("POST", "/", R"({"name": })"), err));
  EXPECT_EQ(err.status, 400);
  std::string reason = body_of(err)["error"]["reason"];
  EXPECT_EQ(reason.rfind("body is not valid JSON: ", 0), 0u) << reason;
  EXPECT_NE(reason.find("at byte 10"), std::string::npos) << reason;
  EXPECT_EQ(reason.find("json.exception"), std::string::npos) << reason;

  EXPECT_FALSE(parse_json_body(make("POST", "/", ""), err));
  EXPECT_EQ(err.status, 400);
  EXPECT_FALSE(parse_json_body(make("POST", "/", "[1, 2]"), err));
  EXPECT_EQ(body_of(err)["error"]["reason"], "body must be a JSON object");
  EXPECT_FALSE(parse_json_body(make("POST", "/", "\"\xff\""), err));
  EXPECT_EQ(err.status, 400);
  EXPECT_NO_THROW(body_of(err));

  std::string deep = "{\"a\":" + std::string(100, '[') + std::string(100, ']') + "}";
  EXPECT_FALSE(parse_json_body(make("POST", "/", deep), err));
  EXPECT_EQ(err.status, 400);
  // Brackets inside strings do not count.
  EXPECT_TRUE(
      parse_json_body(make("POST", "/", "{\"a\":\"" + std::string(100, '[') + "\\\"\"}"), err));
}

}  // namespace
}  // namespace vmgw::api
