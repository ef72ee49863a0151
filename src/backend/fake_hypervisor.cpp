#include "backend/fake_hypervisor.h"

namespace vmgw::backend {

void FakeHypervisor::put(const DomainSnapshot& d) {
  domains_[d.uuid] = d;
  changed_.insert(d.uuid);
}

void FakeHypervisor::erase(const std::string& uuid) {
  domains_.erase(uuid);
  changed_.insert(uuid);
}

void FakeHypervisor::connect() {
  if (!reachable_) throw HypervisorError("cannot connect to libvirt: fake daemon down");
  connected_ = true;
  changed_.clear();  // a new connection starts with a full listing
}

std::vector<DomainSnapshot> FakeHypervisor::domains() {
  if (!connected_) throw HypervisorError("not connected");
  std::vector<DomainSnapshot> out;
  for (const auto& [uuid, d] : domains_) out.push_back(d);
  return out;
}

std::optional<DomainSnapshot> FakeHypervisor::domain(const std::string& uuid) {
  if (!connected_) throw HypervisorError("not connected");
  auto it = domains_.find(uuid);
  if (it == domains_.end()) return std::nullopt;
  return it->second;
}

std::vector<std::string> FakeHypervisor::changed_domains() {
  std::vector<std::string> out(changed_.begin(), changed_.end());
  changed_.clear();
  return out;
}

}  // namespace vmgw::backend
