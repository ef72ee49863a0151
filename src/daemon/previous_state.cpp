#include "daemon/previous_state.h"

#include <algorithm>

#include "compile/compile.h"

namespace vmgw::daemon {
namespace {

std::string count_of(size_t n, const std::string& one, const std::string& many) {
  return std::to_string(n) + " " + (n == 1 ? one : many);
}

// Up to three examples, then "...".
std::string examples(const std::vector<std::string>& items) {
  std::string out;
  for (size_t i = 0; i < items.size() && i < 3; ++i) out += (i ? ", " : "") + items[i];
  if (items.size() > 3) out += ", ...";
  return " (" + out + ")";
}

size_t elements_in(const nft::Table& t, const std::string& set) {
  const nft::Set* s = t.find_set(set);
  return s ? s->elements.size() : 0;
}

}  // namespace

bool never_used(const store::StoredState& s) {
  return s.generation == 0 && s.vms.empty() && s.filters.empty() && s.eips.empty() &&
         s.forwards.empty();
}

std::vector<std::string> previous_state_on_host(
    const Config& topology, const std::optional<nft::Table>& inet,
    const std::vector<backend::AddressInfo>& addresses,
    const std::map<std::string, std::string>& hosts_files) {
  std::vector<std::string> out;
  // Elastic IP addresses: a pool's address on its uplink's device (an unbound one too).
  for (const auto& up : topology.uplinks) {
    std::vector<std::string> held;
    for (const auto& a : addresses) {
      if (a.device != up.device || (up.address && a.address.address == up.address->address))
        continue;
      for (const auto& pool : topology.eip_pools)
        if (pool.uplink == up.name && pool.first && pool.last && *pool.first <= a.address.address &&
            a.address.address <= *pool.last)
          held.push_back(a.address.address.str());
    }
    if (!held.empty())
      out.push_back(count_of(held.size(), "elastic IP address", "elastic IP addresses") +
                    " on uplink " + up.name + "'s device " + up.device + examples(held));
  }
  if (inet) {
    if (size_t n = elements_in(*inet, names::kEipDnat))
      out.push_back(count_of(n, "elastic IP binding", "elastic IP bindings") + " in nftables");
    if (size_t n = elements_in(*inet, names::kForwardAddr))
      out.push_back(count_of(n, "forwarded port", "forwarded ports") + " in nftables");
    if (size_t n = elements_in(*inet, names::kQuarantined))
      out.push_back(count_of(n, "quarantined VM", "quarantined VMs") + " in nftables");
    size_t filtered = 0;
    for (const auto& s : inet->sets)
      if (s.name.size() > names::kProgramMembersSuffix.size() &&
          s.name.ends_with(names::kProgramMembersSuffix))
        filtered += s.elements.size();
    if (filtered) out.push_back(count_of(filtered, "VM", "VMs") + " bound to filters in nftables");
  }
  for (const auto& [network, text] : hosts_files) {
    size_t n = static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
    if (n)
      out.push_back(count_of(n, "DHCP reservation", "DHCP reservations") + " of network " +
                    network);
  }
  return out;
}

}  // namespace vmgw::daemon
