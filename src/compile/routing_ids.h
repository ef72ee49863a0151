// The numbers vmgw gives the kernel for its policy routing: marks, routing tables, nexthop ids
// and rule priorities, one "slot" (1-255) per uplink and per network. A slot is derived from
// the object's name, not its position in the file, so adding or removing an uplink never
// renumbers another one: a flow pinned to an uplink by its conntrack mark keeps meaning that
// uplink across a reload.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace vmgw::routing {

// The bits of the packet and conntrack marks that vmgw uses (other bits are left alone).
inline constexpr uint32_t kMarkMask = 0x00ff0000;
inline constexpr uint32_t kMarkShift = 16;

inline constexpr uint32_t kMainTable = 254;
inline constexpr uint32_t kUplinkBase = 1000;   // + slot: table and nexthop of an uplink
inline constexpr uint32_t kNetworkBase = 2000;  // + slot: table and nexthop group of a network
inline constexpr uint32_t kHostGroup = 3000;    // nexthop group of the host's own traffic

// Rule priorities: all between the kernel's `local` (0) and `main` (32766).
inline constexpr uint32_t kRuleMainFirst = 10000;    // specific routes of main before any default
inline constexpr uint32_t kRuleFwmark = 10100;       // + uplink slot: pinned flows
inline constexpr uint32_t kRuleFromUplink = 10400;   // + uplink slot: sourced from its address
inline constexpr uint32_t kRuleFromNetwork = 10700;  // + network slot: new flows of a network
inline constexpr uint32_t kMainDefaultMetric = 100;
inline constexpr uint32_t kLastResortMetric = 0xFFFFFFFF;  // the unreachable default of a table

// Slots for `names`: fnv1a(name) mod 255 + 1, moving on to the next free slot on a collision,
// names taken in sorted order (so the result depends only on the set of names). At most 255.
std::map<std::string, uint32_t> assign_slots(std::vector<std::string> names);

inline uint32_t mark_of(uint32_t slot) {
  return slot << kMarkShift;
}

}  // namespace vmgw::routing
