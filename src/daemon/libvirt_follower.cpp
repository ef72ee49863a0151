#include "daemon/libvirt_follower.h"

#include <algorithm>
#include <set>

#include "daemon/log.h"
#include "libvirt/domain.h"

namespace vmgw::daemon {
namespace {

constexpr auto kReconnectEvery = std::chrono::seconds(1);

std::string joined(const ServiceError& e) {
  std::string out;
  for (const auto& [field, reason] : e.errors)
    out += (out.empty() ? "" : "; ") + (field.empty() ? reason : field + ": " + reason);
  return out;
}

}  // namespace

std::vector<libvirt::FollowedNetwork> followed_networks(const Config& topology) {
  std::vector<libvirt::FollowedNetwork> out;
  if (!topology.libvirt) return out;
  for (const auto& n : topology.networks) {
    const auto& names = topology.libvirt->networks;
    if (names.empty() || std::find(names.begin(), names.end(), n.name) != names.end())
      out.push_back({n.name, n.bridge});
  }
  return out;
}

LibvirtFollower::LibvirtFollower(Gateway& gw, backend::Hypervisor& hv, std::string uri,
                                 std::vector<libvirt::FollowedNetwork> followed)
    : gw_(gw), hv_(hv), uri_(std::move(uri)), followed_(std::move(followed)) {}

void LibvirtFollower::start(Clock::time_point now) {
  reconnect(now);
}

std::vector<int> LibvirtFollower::fds() const {
  if (hv_.fd() < 0) return {};
  return {hv_.fd()};
}

int LibvirtFollower::timeout_ms(int upper, Clock::time_point now) const {
  if (hv_.connected()) return upper;
  auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(next_try_ - now).count();
  return static_cast<int>(std::clamp<long long>(wait, 0, upper));
}

bool LibvirtFollower::poll(const std::vector<int>& ready, Clock::time_point now) {
  if (!hv_.connected()) {
    if (error_.empty()) {  // it was connected: libvirtd stopped or restarts
      log_error("lost the connection to libvirt at " + uri_ + "; reconnecting every second");
      error_ = "connection lost";
      next_try_ = now + kReconnectEvery;
    }
    if (now < next_try_) return false;
    return reconnect(now);
  }
  if (std::find(ready.begin(), ready.end(), hv_.fd()) == ready.end()) return false;
  auto changed = hv_.changed_domains();
  bool worked = false;
  for (const auto& uuid : changed) worked = resync(uuid) || worked;
  return worked;
}

void LibvirtFollower::configure(std::vector<libvirt::FollowedNetwork> followed,
                                Clock::time_point now) {
  followed_ = std::move(followed);
  if (hv_.connected())
    resync_all();
  else
    next_try_ = now;
}

bool LibvirtFollower::reconnect(Clock::time_point now) {
  next_try_ = now + kReconnectEvery;
  try {
    hv_.connect();
  } catch (const backend::HypervisorError& e) {
    if (error_ != e.what()) log_error(std::string(e.what()) + "; retrying every second");
    error_ = e.what();
    return false;
  }
  log_info("following libvirt at " + uri_);
  error_.clear();
  return resync_all();
}

// Every domain libvirt knows, and every VM a domain made whose domain libvirt no longer knows
// (undefined while vmgwd was not running).
bool LibvirtFollower::resync_all() {
  std::vector<backend::DomainSnapshot> all;
  try {
    all = hv_.domains();
  } catch (const backend::HypervisorError& e) {
    error_ = e.what();
    log_error(e.what());
    return false;
  }
  bool worked = false;
  std::set<std::string> known;
  for (const auto& d : all) {
    known.insert(d.uuid);
    worked = follow(d.uuid, d) || worked;
  }
  std::set<std::string> gone;
  for (const auto& v : gw_.state().vms) {
    std::string uuid = libvirt::domain_of(v.owner);
    if (!uuid.empty() && !known.contains(uuid)) gone.insert(uuid);
  }
  for (const auto& uuid : gone) worked = follow(uuid, std::nullopt) || worked;
  return worked;
}

bool LibvirtFollower::resync(const std::string& uuid) {
  std::optional<backend::DomainSnapshot> d;
  try {
    d = hv_.domain(uuid);
  } catch (const backend::HypervisorError& e) {
    error_ = e.what();
    log_error(e.what());
    return false;
  }
  return follow(uuid, d);
}

bool LibvirtFollower::follow(const std::string& uuid,
                             const std::optional<backend::DomainSnapshot>& snapshot) {
  std::optional<libvirt::DomainVms> desired;
  if (snapshot) {
    auto parsed = libvirt::parse_domain_xml(snapshot->xml);
    if (!parsed.domain) {
      // Unreadable XML changes nothing: its VMs stay as they are rather than vanish.
      log_error("libvirt domain " + uuid + ": cannot read its XML: " + parsed.error);
      return false;
    }
    names_[uuid] = parsed.domain->name;
    desired = libvirt::domain_vms(*parsed.domain, snapshot->active, followed_);
    auto& refused = refused_[uuid];
    for (const auto& r : desired->refused)
      if (std::find(refused.begin(), refused.end(), r) == refused.end()) log_error(r);
    refused = desired->refused;
    if (refused.empty()) refused_.erase(uuid);
    for (const auto& n : desired->notices) log_info(n);
  } else {
    refused_.erase(uuid);
  }
  std::string name = names_.contains(uuid) ? names_[uuid] : "(gone) " + uuid;
  if (!snapshot) names_.erase(uuid);
  bool worked = perform(uuid, name, libvirt::reconcile(desired, owned_by(uuid)));
  if (desired)
    for (const auto& vm : desired->vms) worked = keep_elastic_ip(uuid, name, vm) || worked;
  return worked;
}

// The metadata's eip-pool: the VM holds an elastic IP of that pool (allocated and bound when it
// has none, also when the metadata says so only later).
bool LibvirtFollower::keep_elastic_ip(const std::string& uuid, const std::string& domain,
                                      const libvirt::DomainVm& vm) {
  if (!vm.eip_pool || gw_.eip_of(vm.name)) return false;
  const auto* rec = gw_.vm_record(vm.name);
  if (!rec || rec->owner != libvirt::owner_of(uuid)) return false;  // refused or not made
  const std::string what = "libvirt domain '" + domain + "': vm '" + vm.name + "'";
  try {
    auto eip = gw_.allocate_eip(*vm.eip_pool, std::nullopt);
    try {
      gw_.bind_eip(eip.address, vm.name);
    } catch (...) {
      gw_.release_eip(eip.address);  // not left allocated to nobody
      throw;
    }
    log_info(what + ": elastic IP " + eip.address.str() + " from pool '" + *vm.eip_pool +
             "' (generation " + std::to_string(gw_.state().generation) + ")");
    return true;
  } catch (const ServiceError& e) {
    refuse(uuid, what + ": no elastic IP from pool '" + *vm.eip_pool + "': " + joined(e));
  } catch (const std::exception& e) {
    refuse(uuid, what + ": no elastic IP: " + e.what());
  }
  return false;
}

bool LibvirtFollower::perform(const std::string& uuid, const std::string& domain,
                              const std::vector<libvirt::FollowChange>& changes) {
  using Kind = libvirt::FollowChange::Kind;
  bool worked = false;
  for (const auto& c : changes) {
    const std::string what = "libvirt domain '" + domain + "': vm '" + c.vm.name + "'";
    try {
      switch (c.kind) {
        case Kind::add: {
          VmRequest req{c.vm.name, c.vm.network, c.vm.mac,      c.vm.ip,
                        c.vm.port, c.vm.filters, c.vm.eip_pool, libvirt::owner_of(uuid)};
          if (const auto* other = gw_.vm_record(c.vm.name); other && other->owner != req.owner) {
            refuse(uuid, what + ": not taken: a VM of that name was made " +
                             (other->owner.empty() ? std::string("through the API")
                                                   : "by another domain") +
                             "; name the interface in the domain's vmgw metadata or remove that "
                             "VM");
            continue;
          }
          try {
            gw_.add_vm(req);
          } catch (const ServiceError&) {
            if (!req.eip_pool) throw;
            // The VM without its elastic IP rather than no VM at all; keep_elastic_ip says why
            // there is none.
            req.eip_pool.reset();
            gw_.add_vm(req);
          }
          break;
        }
        case Kind::set:
          gw_.set_vm(c.vm.name, VmInterfaceChange{c.vm.mac, c.vm.ip, c.vm.port, c.vm.filters});
          break;
        case Kind::remove:
          gw_.remove_vm(c.vm.name, true);
          break;
      }
      log_info(what + ": " + c.why + " (generation " + std::to_string(gw_.state().generation) +
               ")");
      worked = true;
    } catch (const ServiceError& e) {
      refuse(uuid, what + ": refused: " + joined(e));
    } catch (const std::exception& e) {
      refuse(uuid, what + ": failed: " + e.what());
    }
  }
  return worked;
}

void LibvirtFollower::refuse(const std::string& uuid, const std::string& line) {
  log_error(line);
  refused_[uuid].push_back(line);
}

std::vector<store::VmRecord> LibvirtFollower::owned_by(const std::string& uuid) const {
  std::vector<store::VmRecord> out;
  const std::string owner = libvirt::owner_of(uuid);
  for (const auto& v : gw_.state().vms)
    if (v.owner == owner) out.push_back(v);
  return out;
}

LibvirtStatus LibvirtFollower::status() const {
  LibvirtStatus s;
  s.uri = uri_;
  s.connected = hv_.connected();
  s.error = error_;
  std::set<std::string> domains;
  for (const auto& v : gw_.state().vms)
    if (libvirt::owned_by_libvirt(v.owner)) domains.insert(v.owner);
  s.domains = domains.size();
  for (const auto& [uuid, lines] : refused_)
    s.refused.insert(s.refused.end(), lines.begin(), lines.end());
  return s;
}

}  // namespace vmgw::daemon
