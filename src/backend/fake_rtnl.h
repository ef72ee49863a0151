// In-memory Rtnl for unit tests: behaves like the kernel for the operations vmgw uses
// (refuses duplicates and unknown devices) and records every write.
#pragma once

#include <string>
#include <vector>

#include "backend/rtnl.h"

namespace vmgw::backend {

class FakeRtnl : public Rtnl {
 public:
  std::vector<LinkInfo> links() override { return links_; }
  std::vector<AddressInfo> addresses() override { return addresses_; }
  std::vector<RouteInfo> routes(uint32_t table) override;
  void create_bridge(const std::string& name) override;
  void set_up(const std::string& name) override;
  void set_master(const std::string& port, const std::string& bridge) override;
  void add_address(const AddressInfo& a) override;
  void delete_address(const AddressInfo& a) override;
  void replace_route(const RouteInfo& r) override;
  void delete_route(const RouteInfo& r) override;

  // Test setup: a device that already exists (e.g. an uplink NIC).
  void add_link(const std::string& name, const std::string& kind = "", bool up = true);

  std::vector<std::string> writes;  // one line per write, e.g. "add_address wan0 203.0.113.5/32"
  std::vector<LinkInfo> links_;
  std::vector<AddressInfo> addresses_;
  std::vector<RouteInfo> routes_;

 private:
  LinkInfo& find(const std::string& name);
};

}  // namespace vmgw::backend
