// `vmgw down`: takes away everything vmgw made on this host, and nothing else.
#pragma once

#include <string>
#include <vector>

#include "apply/apply.h"

namespace vmgw {

struct DownReport {
  std::vector<std::string> tables;  // "inet vmgw"
  std::vector<std::string> net;     // "remove address 10.10.0.1/24 from br-vm"
  std::vector<std::string> dhcp;    // networks whose dnsmasq was stopped

  bool changed() const { return !tables.empty() || !net.empty() || !dhcp.empty(); }
  // "removed: 2 nftables tables; 5 link/address/route changes; dhcp vmnet stopped", or
  // "nothing to remove: vmgw holds nothing on this host".
  std::string summary() const;
};

// What down would remove; writes nothing. DHCP servers are not listed (their pid files are
// the only record, read when stopping).
DownReport preview_down(Backends& b);

// Removes, in this order: vmgw's nftables tables (inet and bridge, one transaction: forwarding
// and NAT stop at once), its policy routing (rules, routes, nexthops: vmgw's protocol), the
// addresses it added (vmgw's IFA_PROTO), the bridges it created (vmgw's alias), and its dnsmasq
// processes. Sysctls stay as they are (vmgw never knew their earlier values). Throws
// backend::NftError if the kernel refuses (nothing changed) or RtnlError later (re-run resumes).
DownReport take_down(Backends& b);

}  // namespace vmgw
