// DHCP lease events (reported by dnsmasq through `vmgw lease-event`) and reservations, as kept
// in the state directory: <state>/dhcp/<network>.events (JSON lines) and <network>.hosts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/lease_event.h"

namespace vmgw {

struct Reservation {
  std::string network;
  std::string mac;
  std::string ip;
  std::string name;
};

// The most an events file holds before its older half is dropped (record_lease_event).
inline constexpr uint64_t kMaxEventsFileBytes = 4 * 1024 * 1024;

// Appends one event (O_APPEND, one write: concurrent hooks do not interleave).
void record_lease_event(const std::string& state_dir, const LeaseEvent& e);
// All events of all networks, oldest first per network, networks sorted by name.
std::vector<LeaseEvent> read_lease_events(const std::string& state_dir);
// All reservations from the hosts files vmgw wrote.
std::vector<Reservation> read_reservations(const std::string& state_dir);

}  // namespace vmgw
