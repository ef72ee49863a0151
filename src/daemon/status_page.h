// The status page (docs/status-page.md): an HTML page, its style sheet and script (embedded in
// vmgwd from src/daemon/status_page/), and the one JSON document the script polls. Served on the
// API socket, and on a TCP address when the config's `status.listen` asks for one: that router
// holds these routes and nothing else, so the TCP side can never reach the API.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "api/router.h"
#include "daemon/gateway.h"
#include "daemon/link_counters.h"
#include "daemon/recent_changes.h"
#include "daemon/status_history.h"
#include "daemon/uplink_health.h"

namespace vmgw::daemon {

// A read of the API: GET `path` with `query` (e.g. {"limit", "20"}).
using ApiRead = std::function<api::Response(const std::string& path,
                                            const std::map<std::string, std::string>& query)>;

// What the page shows, all in one document so that one poll gives a consistent view: the
// status, uplinks, networks, VMs, elastic IPs, forwards, filters, rule counters and recent drops
// as the API's own GET routes give them (a failed read is null, not a failed page), then the
// uplinks' history and the recent changes.
nlohmann::json status_page_data(const ApiRead& read, const StatusHistory& history,
                                const RecentChanges& changes);

// The sample of every declared uplink at `now_s`: up as GET /v1/uplinks says (the probes when
// they run, else the carrier), the probes' smoothed latency, its device's byte counters.
StatusSample uplink_sample(const Gateway& gw, const std::vector<UplinkStatus>& probes,
                           const std::map<std::string, LinkBytes>& links, int64_t now_s);

// Registers GET /status (the page), /status/style.css, /status/app.js and /status/data on `r`.
// `api` is the full API's router: status_page_data reads fixed GET paths from it, nothing a
// client names. `api`, `history` and `changes` must outlive `r`.
void add_status_page_routes(api::Router& r, const api::Router& api, const StatusHistory& history,
                            const RecentChanges& changes);

}  // namespace vmgw::daemon
