// The daemon's log: one line per event on stderr (journald adds time and unit when run by
// systemd; we add our own timestamp for foreground runs and tests).
#pragma once

#include <string>

namespace vmgw::daemon {

void log_info(const std::string& msg);
void log_error(const std::string& msg);

}  // namespace vmgw::daemon
