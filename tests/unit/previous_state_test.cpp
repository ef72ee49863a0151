// What the host holds of an earlier vmgwd, found before the first converge on a new database
// (previous_state.h): elastic IP addresses, bindings, forwards, filtered VMs, reservations.
#include <gtest/gtest.h>

#include "compile/compile.h"
#include "daemon/previous_state.h"
#include "model/load.h"

namespace vmgw::daemon {
namespace {

constexpr const char* kTopology = R"(
uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, dhcp: true}
elastic_ips:
  pools:
    - {name: public, uplink: isp1, cidr: 203.0.113.16/28}
)";

Config topology() {
  auto r = load_config(kTopology, "vmgw.yaml");
  return std::get<Validated<Config>>(std::move(r)).get();
}

backend::AddressInfo addr(const std::string& dev, const std::string& a) {
  return {dev, *InterfaceAddress::parse(a)};
}

nft::Table table_with(const std::string& set, size_t n) {
  nft::Table t;
  nft::Set s;
  s.name = set;
  for (size_t i = 0; i < n; ++i) s.elements.push_back({nft::Json(std::to_string(i)), nullptr});
  t.sets.push_back(s);
  return t;
}

TEST(PreviousState, ANeverUsedDatabaseIsGenerationZeroWithoutObjects) {
  store::StoredState s;
  EXPECT_TRUE(never_used(s));
  s.generation = 3;  // every object deleted since: a choice the operator made
  EXPECT_FALSE(never_used(s));
}

TEST(PreviousState, AFreshHostHoldsNothing) {
  // The uplink's own address and the bridge's gateway are the topology's, not an earlier state.
  auto held = previous_state_on_host(
      topology(), std::nullopt, {addr("wan0", "203.0.113.2/24"), addr("br-vm", "10.10.0.1/24")},
      {{"vmnet", ""}});
  EXPECT_TRUE(held.empty());
}

TEST(PreviousState, EachKindOfEarlierStateIsNamed) {
  nft::Table t = table_with(names::kEipDnat, 2);
  t.sets.push_back(table_with(names::kForwardAddr, 1).sets[0]);
  t.sets.push_back(table_with("l3o-0123456789abcdef-vms", 3).sets[0]);
  auto held =
      previous_state_on_host(topology(), t,
                             {addr("wan0", "203.0.113.2/24"), addr("wan0", "203.0.113.16/32"),
                              addr("wan0", "203.0.113.17/32"), addr("wan1", "203.0.113.18/32"),
                              addr("wan0", "198.51.100.7/32")},
                             {{"vmnet", "52:54:00:00:00:0a,10.10.0.10,web\n"}});
  EXPECT_EQ(held,
            (std::vector<std::string>{
                "2 elastic IP addresses on uplink isp1's device wan0 (203.0.113.16, "
                "203.0.113.17)",
                "2 elastic IP bindings in nftables", "1 forwarded port in nftables",
                "3 VMs bound to filters in nftables", "1 DHCP reservation of network vmnet"}));
}

}  // namespace
}  // namespace vmgw::daemon
