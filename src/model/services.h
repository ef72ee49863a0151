// Well-known service names for allow-lists (`port: ssh`), vmgw's own table: minimal hosts have
// no /etc/services, and a rule must not change meaning with the host's files.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "model/net.h"

namespace vmgw {

// The port of service `name` over `proto`; nullopt if vmgw knows no such service over it.
std::optional<uint16_t> service_port(std::string_view name, Proto proto);
// "udp/123" when `name` is a known service over other protocols only, else "".
std::string service_elsewhere(std::string_view name, Proto proto);
// Every name, for messages: "ssh, http, https, ...".
std::string service_names();

}  // namespace vmgw
