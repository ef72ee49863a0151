// Keeps one dnsmasq per DHCP network running: a server that died is started again, with an
// exponential backoff (1 s doubling to 30 s) so a server that cannot start does not spin.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/dhcp.h"

namespace vmgw::daemon {

class DhcpSupervisor {
 public:
  using Clock = std::chrono::steady_clock;
  using Log = std::function<void(const std::string&)>;

  DhcpSupervisor(backend::Dhcp& dhcp, Log log) : dhcp_(dhcp), log_(std::move(log)) {}

  // Checks every server of the plan in force; restarts the dead ones whose backoff elapsed.
  void tick(const std::vector<DhcpServer>& servers, Clock::time_point now);
  // "running" or "restarting (next try in Ns)" per network.
  std::map<std::string, std::string> state() const;
  uint64_t restarts() const { return restarts_; }

 private:
  struct Entry {
    int failures = 0;
    Clock::time_point next_try{};
    Clock::time_point up_since{};
    std::string state = "running";
  };
  backend::Dhcp& dhcp_;
  Log log_;
  std::map<std::string, Entry> entries_;
  uint64_t restarts_ = 0;
};

}  // namespace vmgw::daemon
