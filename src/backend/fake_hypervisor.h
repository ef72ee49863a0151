// A Hypervisor for unit tests: domains held in memory, events raised by the test.
#pragma once

#include <map>
#include <set>

#include "backend/hypervisor.h"

namespace vmgw::backend {

class FakeHypervisor final : public Hypervisor {
 public:
  // A domain defined or changed (an event for it is noted).
  void put(const DomainSnapshot& d);
  // A domain libvirt no longer knows (undefined).
  void erase(const std::string& uuid);
  void set_reachable(bool r) { reachable_ = r; }
  // The daemon died: connected() turns false until connect() succeeds.
  void lose_connection() { connected_ = false; }

  void connect() override;
  bool connected() const override { return connected_; }
  std::vector<DomainSnapshot> domains() override;
  std::optional<DomainSnapshot> domain(const std::string& uuid) override;
  int fd() const override { return connected_ ? 1000 : -1; }  // never polled: tests call poll
  std::vector<std::string> changed_domains() override;
  std::vector<std::pair<std::string, std::string>> filters() override { return filters_; }
  std::vector<std::pair<std::string, std::string>> filters_;  // as a test defines them

 private:
  std::map<std::string, DomainSnapshot> domains_;
  std::set<std::string> changed_;
  bool reachable_ = true;
  bool connected_ = false;
};

}  // namespace vmgw::backend
