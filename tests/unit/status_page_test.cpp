// The status page's pure parts: the uplinks' history and its rates, the recent changes, the
// page's one JSON document composed from API reads, and the link counters' parser.
#include "daemon/status_page.h"

#include <gtest/gtest.h>

#include "api/router.h"

namespace vmgw::daemon {
namespace {

StatusSample sample(int64_t t, bool up, std::optional<uint64_t> rx, std::optional<uint64_t> tx,
                    std::optional<double> rtt = std::nullopt) {
  return {t, {{"wan0", up, rtt, rx, tx}}};
}

TEST(StatusHistory, OneSampleEveryIntervalTheFirstAtOnce) {
  StatusHistory h(3, 10);
  EXPECT_TRUE(h.due(1000));
  h.add(sample(1000, true, 0, 0));
  EXPECT_FALSE(h.due(1009));
  EXPECT_TRUE(h.due(1010));
  EXPECT_TRUE(h.due(900));  // the clock stepped back: sampling goes on
}

TEST(StatusHistory, BoundedForgetsTheOldest) {
  StatusHistory h(3, 10);
  for (int64_t t = 0; t < 50; t += 10) h.add(sample(t, true, t, t));
  EXPECT_EQ(h.size(), 3u);
  auto j = to_json(h);
  ASSERT_EQ(j["uplinks"]["wan0"].size(), 3u);
  EXPECT_EQ(j["uplinks"]["wan0"][0]["t"], 20);
  EXPECT_EQ(j["every_s"], 10);
}

TEST(StatusHistory, RatesFromConsecutiveSamplesNullWhenUnknown) {
  StatusHistory h(10, 10);
  h.add(sample(0, true, 1000, 500, 1.5));
  h.add(sample(10, false, 6000, 700));
  h.add(sample(20, true, 100, std::nullopt));  // the device was recreated, tx unreadable
  auto points = to_json(h)["uplinks"]["wan0"];
  EXPECT_TRUE(points[0]["rx_bps"].is_null());
  EXPECT_EQ(points[0]["rtt_ms"], 1.5);
  EXPECT_EQ(points[1]["rx_bps"], 500.0);
  EXPECT_EQ(points[1]["tx_bps"], 20.0);
  EXPECT_EQ(points[1]["up"], false);
  EXPECT_TRUE(points[1]["rtt_ms"].is_null());
  EXPECT_TRUE(points[2]["rx_bps"].is_null());
  EXPECT_TRUE(points[2]["tx_bps"].is_null());
}

TEST(RecentChanges, NewestFirstAndBounded) {
  RecentChanges r(2);
  r.add({0, "vm/a", "add", "one", true});
  r.add({1, "vm/b", "add", "two", true});
  r.add({2, "route", "self-heal", "three", false});
  auto j = r.to_json();
  ASSERT_EQ(j.size(), 2u);
  EXPECT_EQ(j[0]["object"], "route");
  EXPECT_EQ(j[0]["ok"], false);
  EXPECT_EQ(j[0]["time"], "1970-01-01T00:00:02.000Z");
  EXPECT_EQ(j[1]["object"], "vm/b");
}

TEST(StatusPageData, ReadsTheApiAndSurvivesAFailedRead) {
  std::vector<std::string> asked;
  ApiRead read = [&](const std::string& path, const std::map<std::string, std::string>& q) {
    asked.push_back(path + (q.count("limit") ? "?limit=" + q.at("limit") : ""));
    if (path == "/v1/vms") return api::json_response(200, nlohmann::json::array({{{"name", "w"}}}));
    if (path == "/v1/counters") return api::error_response(500, "", "nft failed");
    return api::json_response(200, nlohmann::json::object());
  };
  StatusHistory h;
  RecentChanges c;
  auto j = status_page_data(read, h, c);
  EXPECT_EQ(j["vms"][0]["name"], "w");
  EXPECT_TRUE(j["counters"].is_null());
  EXPECT_TRUE(j["changes"].is_array());
  EXPECT_EQ(j["history"]["every_s"], 10);
  // Only fixed GET reads of the API: nothing the page's client chose.
  EXPECT_EQ(asked, (std::vector<std::string>{"/v1/status", "/v1/uplinks", "/v1/networks", "/v1/vms",
                                             "/v1/eips", "/v1/forwards", "/v1/filters",
                                             "/v1/counters", "/v1/log?limit=20"}));
}

TEST(StatusPageRoutes, ThePageItsFilesAndNothingElse) {
  api::Router api, page;
  StatusHistory h;
  RecentChanges c;
  add_status_page_routes(page, api, h, c);
  auto get = [&](const std::string& path) {
    api::Request req;
    req.method = "GET";
    req.path = path;
    return page.dispatch(req);
  };
  auto html = get("/status");
  EXPECT_EQ(html.status, 200);
  EXPECT_EQ(html.content_type, "text/html; charset=utf-8");
  EXPECT_NE(html.body.find("/status/app.js"), std::string::npos);
  EXPECT_NE(html.headers["Content-Security-Policy"].find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(get("/status/app.js").status, 200);
  EXPECT_EQ(get("/status/style.css").status, 200);
  EXPECT_EQ(get("/status/data").status, 200);
  EXPECT_EQ(get("/v1/vms").status, 404);
}

TEST(LinkCounters, ParsesProcNetDev) {
  auto links = parse_proc_net_dev(
      "Inter-|   Receive                                                |  Transmit\n"
      " face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets\n"
      "    lo:     120       2    0    0    0     0          0         0      120       2    0 "
      "   0    0     0       0          0\n"
      "  eth0: 9000 10 0 0 0 0 0 0 4500 7 0 0 0 0 0 0\n"
      "  bad: 1 2\n");
  ASSERT_EQ(links.size(), 2u);
  EXPECT_EQ(links["eth0"].rx, 9000u);
  EXPECT_EQ(links["eth0"].tx, 4500u);
  EXPECT_EQ(links["lo"].rx, 120u);
}

}  // namespace
}  // namespace vmgw::daemon
