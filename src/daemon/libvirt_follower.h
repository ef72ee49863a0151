// vmgwd follows a libvirt daemon (the config's `libvirt` section): each interface of a domain on
// a followed network's bridge is a VM object, kept equal to the domain through libvirt's events
// (started, stopped, defined, undefined, migrated, a NIC plugged or unplugged) and reconciled
// with every domain at start and after a lost connection. Changes go through the Gateway, the
// path of every API change: checked, applied to the kernel, stored, in one step each.
//
// The choices (docs/libvirt.md): a stopped domain keeps its VMs, unplugged (its address,
// reservation and elastic IP stay for the next start); an undefined domain, or a transient one
// that stopped, takes its VMs with it and releases their elastic IPs; a VM made through the API
// is never taken over (the domain's interface is refused, with the reason in the log and in
// GET /v1/status).
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "backend/hypervisor.h"
#include "daemon/gateway.h"
#include "libvirt/follow.h"

namespace vmgw::daemon {

struct LibvirtStatus {
  std::string uri;
  bool connected = false;
  std::string error;                 // why it is not connected, or the last failed read
  size_t domains = 0;                // domains with a VM in vmgw
  std::vector<std::string> refused;  // interfaces not taken, by domain (newest state)
};

class LibvirtFollower {
 public:
  using Clock = std::chrono::steady_clock;
  LibvirtFollower(Gateway& gw, backend::Hypervisor& hv, std::string uri,
                  std::vector<libvirt::FollowedNetwork> followed);

  // Connects and reconciles every domain. libvirt not reachable is logged and retried.
  void start(Clock::time_point now);
  std::vector<int> fds() const;
  // The poll timeout, at most `upper`: soon when a reconnection is due.
  int timeout_ms(int upper, Clock::time_point now) const;
  // Follows what happened; true when it changed vmgw's objects.
  bool poll(const std::vector<int>& ready, Clock::time_point now);
  // A new topology (SIGHUP): the followed networks may differ; every domain is looked at again.
  void configure(std::vector<libvirt::FollowedNetwork> followed, Clock::time_point now);

  LibvirtStatus status() const;

 private:
  bool reconnect(Clock::time_point now);
  bool resync_all();
  bool resync(const std::string& uuid);
  // `name` for messages; `snapshot` nullopt: the domain is gone.
  bool follow(const std::string& uuid, const std::optional<backend::DomainSnapshot>& snapshot);
  bool perform(const std::string& uuid, const std::string& domain,
               const std::vector<libvirt::FollowChange>& changes);
  void refuse(const std::string& uuid, const std::string& line);
  bool keep_elastic_ip(const std::string& uuid, const std::string& domain,
                       const libvirt::DomainVm& vm);
  std::vector<store::VmRecord> owned_by(const std::string& uuid) const;

  Gateway& gw_;
  backend::Hypervisor& hv_;
  std::string uri_;
  std::vector<libvirt::FollowedNetwork> followed_;
  std::string error_;
  Clock::time_point next_try_{};
  std::map<std::string, std::vector<std::string>> refused_;  // by domain UUID
  std::map<std::string, std::string> names_;                 // domain name by UUID
};

// The followed networks of `topology` (all with a bridge when the section names none).
std::vector<libvirt::FollowedNetwork> followed_networks(const Config& topology);

}  // namespace vmgw::daemon
