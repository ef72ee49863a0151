// REST routes for per-VM filters, quarantine, counters, traces and the drop log.
#pragma once

#include "api/router.h"
#include "daemon/gateway.h"
#include "daemon/log_book.h"
#include "daemon/routes.h"

namespace vmgw::daemon {

// `info`, when given, adds the drop log's suppressed count to GET /v1/log.
void add_filter_routes(api::Router& router, Gateway& gw, LogBook& log,
                       const DaemonInfo* info = nullptr);

}  // namespace vmgw::daemon
