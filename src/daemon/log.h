// The daemon's log: one line per event on stderr (journald adds time and unit when run by
// systemd; we add our own timestamp for foreground runs and tests).
#pragma once

#include <string>

namespace vmgw::daemon {

void log_info(const std::string& msg);
void log_error(const std::string& msg);
// A packet vmgw's rules logged (`vmgw log`), for the journal: "<time> packet <fields>", the
// fields as daemon::format_fields gives them. Bounded by host.drop_log in the kernel.
void log_packet(const std::string& fields);

}  // namespace vmgw::daemon
