// The imperative shell of `vmgw apply`: read the kernel, diff against the plan, write the
// difference. nftables changes go in one transaction; links, addresses, routes, sysctls and
// DHCP servers are converged after it.
#pragma once

#include <stdexcept>
#include <string>
#include <vector>

#include "apply/net_diff.h"
#include "backend/dhcp.h"
#include "backend/nft_backend.h"
#include "backend/rtnl.h"
#include "backend/sysctl.h"
#include "compile/compile.h"
#include "compile/plan.h"
#include "plan/live_plan.h"
#include "plan/nft_diff.h"

namespace vmgw {

// The host cannot take the plan as it is (a missing uplink device); nothing was changed.
struct EnvironmentError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Backends {
  backend::NftBackend& nft;
  backend::Rtnl& rtnl;
  backend::Sysctl& sysctl;
  backend::Dhcp& dhcp;
};

struct ApplyReport {
  NftChange nft;
  std::vector<std::string> net;     // one line per link/address/route operation
  std::vector<std::string> sysctl;  // "net.ipv4.ip_forward = 1"
  std::vector<std::string> dhcp;    // "vmnet: reloaded"

  bool changed() const;
  // One line: "applied: nft +2 elements; 1 address; dhcp vmnet reloaded" or "no changes: ...".
  std::string summary() const;
};

// What apply would do, without writing anything (for `vmgw apply --dry-run` and tests).
ApplyReport preview(const Plan& plan, Backends& b);

// The uplinks' health as far as the links tell it (without probes): an uplink has carrier when
// its device exists, is up and has carrier (IFF_LOWER_UP). `vmgw apply` compiles with this, so
// it never plans a nexthop the kernel would refuse.
UplinkConditions link_conditions(const Config& config, const std::vector<backend::LinkInfo>& links);

// Converges only the policy routing (nexthops, routes, rules) to `plan`'s: what a change of the
// uplinks' health touches. Throws backend::RtnlError on a refusal (the next call resumes).
ApplyReport apply_routing(const Plan& plan, backend::Rtnl& rtnl);

// Converges the host to `plan`. Throws EnvironmentError before any change if the host cannot
// take it, backend::NftError if the kernel refused the nftables batch (nothing changed), and
// backend::RtnlError / std::runtime_error for later steps (re-running apply resumes).
ApplyReport apply(const Plan& plan, Backends& b);

// Makes the host take a change found without reading it (LivePlan::step): the nftables batch
// first (refused as a whole, it changes nothing), then the bridge ports, addresses, sysctls and
// DHCP servers it names; only those are read back. `written` turns true once anything was
// written, so that a caller whose later step fails knows there is something to undo.
// `plugged` (if given) gets the ports the delta plugs into their bridges, before it does: a
// change that fails later takes them out again.
ApplyReport apply_delta(const PlanDelta& delta, Backends& b, bool& written,
                        std::vector<std::string>* plugged = nullptr);

// Self-healing (daemon/host_healer.h) of `host`, the host part of the plan in force: the links,
// addresses and routing the kernel lost or another program changed, put back by the diff every
// apply makes (net_diff). `ran` gets each operation once it ran, in order. Throws
// backend::RtnlError on a refusal (`ran` then holds what ran before it).
void restore_net(const Plan& host, backend::Rtnl& rtnl, std::vector<NetOp>& ran);
// The sysctls of `host` whose value is no longer vmgw's, set again: "net.ipv4.ip_forward = 1".
std::vector<std::string> restore_sysctls(const Plan& host, backend::Sysctl& sysctl);

}  // namespace vmgw
