// What vmgw makes of a libvirt domain: the VM objects its interfaces become, and the changes
// that bring the objects a domain owns in vmgw's state to them. Pure: the daemon's follower
// (daemon/libvirt_follower.h) reads domains through backend::Hypervisor and performs the
// changes through the Gateway, the path every API change takes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "libvirt/domain.h"
#include "model/net.h"
#include "store/state.h"

namespace vmgw::libvirt {

// A vmgw network whose bridge vmgwd follows.
struct FollowedNetwork {
  std::string name;
  std::string bridge;
};

// One VM a domain's interface becomes.
struct DomainVm {
  std::string name;
  std::string network;
  Mac mac;
  std::optional<Ipv4> ip;  // none: keep the one it has, or the next free address
  std::string port;        // the tap; "" while the domain is not running (the VM is unplugged)
  // What vmgw enforces; none while the domain is not running (no tap to bind them to: they
  // come back in the change that plugs it).
  std::vector<store::FilterBindingRecord> filters;
  std::optional<std::string> eip_pool;  // allocate an elastic IP when first made
};

// The VMs of one domain, and what could not be taken, one line each, for the daemon's log.
struct DomainVms {
  std::vector<DomainVm> vms;
  std::vector<std::string> notices;  // taken, with a remark (a filter left to libvirt)
  std::vector<std::string> refused;  // an interface vmgw does not take, and why
};

// The owner recorded on a VM a domain made ("libvirt:<uuid>"); API-made VMs have none.
std::string owner_of(const std::string& uuid);
bool owned_by_libvirt(const std::string& owner);
// The domain's UUID of such an owner, "" for another owner.
std::string domain_of(const std::string& owner);

// `running`: the domain is active (its interfaces have taps). Interfaces on other bridges are
// not vmgw's and are skipped silently.
DomainVms domain_vms(const Domain& d, bool running, const std::vector<FollowedNetwork>& followed);

struct FollowChange {
  // set: the VM's MAC, address, port and filters in one change (plugged and filtered at once).
  enum class Kind { add, set, remove };
  Kind kind;
  DomainVm vm;      // for remove: only the name
  std::string why;  // for the log: "interface 52:54:00:00:01:01 plugged into vnet3"
};

// The changes that make `owned` (the VMs this domain owns now) equal to `desired` (nullopt: the
// domain is gone, all of its VMs go, releasing their elastic IPs).
std::vector<FollowChange> reconcile(const std::optional<DomainVms>& desired,
                                    const std::vector<store::VmRecord>& owned);

}  // namespace vmgw::libvirt
