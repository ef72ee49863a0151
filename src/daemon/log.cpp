#include "daemon/log.h"

#include <ctime>
#include <iostream>

namespace vmgw::daemon {
namespace {

void line(const char* level, const std::string& msg) {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::cerr << buf << " " << level << " " << msg << std::endl;
}

}  // namespace

void log_info(const std::string& msg) {
  line("info", msg);
}
void log_error(const std::string& msg) {
  line("error", msg);
}
void log_packet(const std::string& fields) {
  line("packet", fields);
}

}  // namespace vmgw::daemon
