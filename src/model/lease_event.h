// One DHCP lease event as dnsmasq reports it through its --dhcp-script hook.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vmgw {

struct LeaseEvent {
  std::string time;  // ISO 8601 UTC
  std::string network;
  std::string action;  // add, old, del
  std::string mac;
  std::string ip;
  std::string hostname;
  bool operator==(const LeaseEvent&) const = default;
};

// The longest host name a lease event may carry (a DNS name: 253 characters, labels of 63).
inline constexpr size_t kMaxLeaseHostname = 253;

// What is wrong with an event, as (field, reason); empty when it may be recorded. Lease events
// come from guests (through dnsmasq): a hostname is a DNS name of letters, digits, '-' and '_'
// in dot-separated labels, the time is "YYYY-MM-DDTHH:MM:SSZ" and not more than a day ahead of
// `now` (a clock set wrong), the network a valid name. Whether the network exists is the
// caller's to check.
std::vector<std::pair<std::string, std::string>> lease_event_errors(const LeaseEvent& e,
                                                                    std::time_t now);

// "YYYY-MM-DDTHH:MM:SSZ" as seconds since the epoch, or nullopt.
std::optional<std::time_t> parse_utc_time(std::string_view text);
std::string format_utc_time(std::time_t t);

}  // namespace vmgw
