// One DHCP lease event as dnsmasq reports it through its --dhcp-script hook.
#pragma once

#include <string>

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

}  // namespace vmgw
