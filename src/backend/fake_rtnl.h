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
  void delete_link(const std::string& name) override;
  void set_up(const std::string& name) override;
  void set_master(const std::string& port, const std::string& bridge) override;
  void release_port(const std::string& port) override;
  void add_address(const AddressInfo& a) override;
  void delete_address(const AddressInfo& a) override;
  void replace_route(const RouteInfo& r) override;
  void delete_route(const RouteInfo& r) override;
  std::vector<RuleInfo> rules() override { return rules_; }
  void add_rule(const RuleInfo& r) override;
  void delete_rule(const RuleInfo& r) override;
  std::vector<NexthopInfo> nexthops() override { return nexthops_; }
  void replace_nexthop(const NexthopInfo& n) override;
  void delete_nexthop(uint32_t id) override;

  // Test setup: a device that already exists (e.g. an uplink NIC), with carrier when up.
  void add_link(const std::string& name, const std::string& kind = "", bool up = true);
  // Test event: the link loses or regains carrier (a cable pulled, a veth peer set down). On
  // loss the kernel flushes the nexthops on the device, as here.
  void set_carrier(const std::string& name, bool carrier);

  std::vector<std::string> writes;  // one line per write, e.g. "add_address wan0 203.0.113.5/32"
  std::vector<LinkInfo> links_;
  std::vector<AddressInfo> addresses_;
  std::vector<RouteInfo> routes_;
  std::vector<RuleInfo> rules_;
  std::vector<NexthopInfo> nexthops_;

 private:
  LinkInfo& find(const std::string& name);
  // Deletes nexthop `id` as the kernel does: from every group (a group left empty goes too)
  // and every route through a deleted nexthop or group.
  void drop_nexthop(uint32_t id);
};

}  // namespace vmgw::backend
