// The CLI's side of the API: one blocking request/response over the daemon's Unix socket.
#pragma once

#include <string>

#include "api/http.h"

namespace vmgw::api {

// Connects, sends `req` (serialize(Request)), reads the whole answer. The timeout covers the
// entire exchange. Throws std::runtime_error: "cannot connect to vmgwd at PATH: <strerror>; is
// the daemon running?", on timeout, and on a malformed answer. An HTTP error status is not an
// exception: it is returned like any other response.
Response http_call(const std::string& socket_path, const Request& req, int timeout_ms = 30000);

}  // namespace vmgw::api
