// A new database next to a live gateway. vmgwd converges the host to its database; started on a
// missing or empty one (a lost disk, a wrong --db, a restore gone wrong) it would remove every
// VM's elements, elastic IP and reservation of the gateway still running. So before the first
// converge, vmgwd looks at what the host holds of vmgw, and refuses to start when the database is
// empty but the host is not, unless the operator says to start empty (--reset-host-state).
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/rtnl.h"
#include "model/config.h"
#include "nft/table.h"
#include "store/state.h"

namespace vmgw::daemon {

// A database that has never held a change: generation 0 and no objects.
bool never_used(const store::StoredState& s);

// What the host holds that only an earlier database of vmgwd can have put there, one line per
// kind ("2 elastic IP addresses on uplink isp1's device wan0 (203.0.113.16, 203.0.113.17)");
// empty when nothing. `inet`: vmgw's inet table as the kernel lists it (nullopt: none);
// `hosts_files`: the DHCP hosts file of each network of the topology, by network ("" if none).
std::vector<std::string> previous_state_on_host(
    const Config& topology, const std::optional<nft::Table>& inet,
    const std::vector<backend::AddressInfo>& addresses,
    const std::map<std::string, std::string>& hosts_files);

}  // namespace vmgw::daemon
