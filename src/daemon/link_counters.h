// The byte counters of the host's network devices, from /proc/net/dev: that file shows the
// network namespace of the process reading it (unlike /sys/class/net, which shows sysfs's), so
// vmgwd in a namespace reads its own devices.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

namespace vmgw::daemon {

struct LinkBytes {
  uint64_t rx = 0, tx = 0;
};

// Parses /proc/net/dev's text: "  eth0: RXBYTES packets ... TXBYTES ..." after two header lines.
// Lines that do not parse are left out.
std::map<std::string, LinkBytes> parse_proc_net_dev(std::string_view text);

// Reads and parses /proc/net/dev; empty when it cannot be read.
std::map<std::string, LinkBytes> read_link_bytes();

}  // namespace vmgw::daemon
