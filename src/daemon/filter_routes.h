// REST routes for per-VM filters, quarantine, counters, traces and the drop log.
#pragma once

#include "api/router.h"
#include "daemon/gateway.h"
#include "daemon/log_book.h"

namespace vmgw::daemon {

void add_filter_routes(api::Router& router, Gateway& gw, LogBook& log);

}  // namespace vmgw::daemon
