// What an API change was about, for the journal's fields and the status page's recent changes:
// POST /v1/vms answered {"name": "web1"} -> object "vm/web1", change "add". Pure.
#pragma once

#include <string>

#include "daemon/log.h"

namespace vmgw::daemon {

// The object is the resource's kind in the singular and its id: from the path ("/v1/vms/web1",
// "/v1/eips/203.0.113.17/bind"), else from the answer's "name" or "address" (a creation), else
// the kind alone. The change: the path's action (bind, unbind, ...), else add (POST), set
// (PATCH, PUT) or remove (DELETE).
LogFields change_fields(const std::string& method, const std::string& path,
                        const std::string& response_body);

}  // namespace vmgw::daemon
