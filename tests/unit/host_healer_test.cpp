// Self-healing of the host part through the Gateway and the HostHealer, on the fake kernel:
// what another program breaks is put back after a quiet moment, logged and counted by kind;
// vmgw's own changes and other programs' objects are left alone.
#include "daemon/host_healer.h"
#include "fake_gateway.h"

#include <gtest/gtest.h>

#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "daemon_topology.h"
#include "model/load.h"

namespace vmgw::daemon {
namespace {

using testing::kTopology;
using testing::topology;

using namespace std::chrono_literals;
using backend::NetEvent;

InterfaceAddress addr(const char* s) {
  return *InterfaceAddress::parse(s);
}

struct Healer : ::testing::Test, vmgw::testing::FakeGatewayHost {
  std::unique_ptr<Gateway> gw;
  backend::FakeNetWatch* net = nullptr;
  backend::FakeFileWatch* files = nullptr;
  std::unique_ptr<HostHealer> healer;
  std::vector<std::string> info, errors;
  HostHealer::Clock::time_point t0 = HostHealer::Clock::now();

  void SetUp() override {
    rtnl.add_link("wan0", "veth");
    rtnl.add_link("vnet-web", "veth");
    auto topo = std::get<Validated<Config>>(load_config(kTopology, "vmgw.yaml")).get();
    gw = std::make_unique<Gateway>(topo, deps());
    gw->start();
    gw->add_vm({"web", "vmnet", *Mac::parse("52:54:00:00:00:0a"), std::nullopt, "vnet-web"});
    gw->bind_eip(gw->allocate_eip(std::nullopt, std::nullopt).address, "web");
    auto n = std::make_unique<backend::FakeNetWatch>();
    auto f = std::make_unique<backend::FakeFileWatch>();
    net = n.get();
    files = f.get();
    healer = std::make_unique<HostHealer>(
        *gw, std::move(n), std::move(f), [&](const std::string& s) { info.push_back(s); },
        [&](const std::string& s) { errors.push_back(s); });
    healer->poll({}, t0);  // the first sysctl check
    info.clear();
  }
  // Another program deletes an address, as the kernel then notifies it.
  void address_removed(const std::string& device, const char* a) {
    backend::AddressInfo gone{device, addr(a)};
    std::erase(rtnl.addresses_, gone);
    NetEvent e;
    e.kind = NetEvent::Kind::address;
    e.address = gone;
    e.removed = true;
    e.sender = 4242;
    net->events.push_back(e);
  }
  bool has(const std::string& device, const char* a) {
    auto all = rtnl.addresses();
    return std::find(all.begin(), all.end(), backend::AddressInfo{device, addr(a)}) != all.end();
  }
  uint64_t heals(const std::string& kind) {
    auto it = gw->counters().self_heals.find(kind);
    return it == gw->counters().self_heals.end() ? 0 : it->second;
  }
};

TEST_F(Healer, AnElasticIpsAddressIsPutBackAfterAQuietMoment) {
  ASSERT_TRUE(has("wan0", "203.0.113.16/32"));
  address_removed("wan0", "203.0.113.16/32");
  healer->poll({net->fd()}, t0);
  EXPECT_FALSE(has("wan0", "203.0.113.16/32"));  // not yet: a burst may go on
  EXPECT_EQ(healer->timeout_ms(1000, t0), 21);
  EXPECT_TRUE(healer->poll({}, t0 + HostHealer::kQuiet));
  EXPECT_TRUE(has("wan0", "203.0.113.16/32"));
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0],
            "self-heal: restored address: add address 203.0.113.16/32 on wan0 (noticed: address "
            "203.0.113.16/32 on wan0 removed (netlink port 4242), restored 20 ms later)");
  EXPECT_EQ(heals("address"), 1u);
}

TEST_F(Healer, AFightIsSaidOnceAndPaced) {
  // Another program deletes the address again as soon as it is back.
  auto at = t0;
  for (size_t i = 0; i < HealTimer::kFightHeals; ++i) {
    address_removed("wan0", "203.0.113.16/32");
    healer->poll({net->fd()}, at);
    at += HostHealer::kQuiet;
    EXPECT_TRUE(healer->poll({}, at));
    EXPECT_TRUE(has("wan0", "203.0.113.16/32"));
  }
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0],
            "self-heal: add address 203.0.113.16/32 on wan0: undone again at once, 5 times within "
            "5 s: another program fights vmgw over it; restoring at most once a second while that "
            "goes on");
  address_removed("wan0", "203.0.113.16/32");
  healer->poll({net->fd()}, at);
  EXPECT_FALSE(healer->poll({}, at + HostHealer::kQuiet));
  EXPECT_FALSE(has("wan0", "203.0.113.16/32"));
  EXPECT_TRUE(healer->poll({}, at + HealTimer::kFightPace));
  EXPECT_TRUE(has("wan0", "203.0.113.16/32"));
  EXPECT_EQ(errors.size(), 1u);
}

TEST_F(Healer, ABurstIsOneRediff) {
  address_removed("wan0", "203.0.113.16/32");
  address_removed("br-vm", "10.10.0.1/29");
  healer->poll({net->fd()}, t0);
  healer->poll({}, t0 + 10ms);
  address_removed("wan0", "203.0.113.2/24");
  healer->poll({net->fd()}, t0 + 15ms);
  EXPECT_FALSE(healer->poll({}, t0 + 30ms));
  EXPECT_TRUE(healer->poll({}, t0 + 35ms));
  EXPECT_TRUE(has("wan0", "203.0.113.16/32"));
  EXPECT_TRUE(has("br-vm", "10.10.0.1/29"));
  EXPECT_TRUE(has("wan0", "203.0.113.2/24"));
  EXPECT_EQ(heals("address"), 3u);
}

TEST_F(Healer, OwnChangesAreNotHealed) {
  // vmgw unbinds and releases the elastic IP: its address goes, notified after the plan changed.
  auto eip = gw->state().eips.front().address;
  gw->unbind_eip(eip);
  NetEvent e;
  e.kind = NetEvent::Kind::address;
  e.address = {"wan0", addr("203.0.113.16/32")};
  e.removed = true;
  net->events.push_back(e);
  // A change nobody was notified of: a re-diff would put it back, so it shows there was none.
  std::erase(rtnl.addresses_, backend::AddressInfo{"br-vm", addr("10.10.0.1/29")});
  const auto writes = rtnl.writes.size();
  EXPECT_FALSE(healer->poll({net->fd()}, t0));
  EXPECT_FALSE(healer->poll({}, t0 + 1s));
  EXPECT_EQ(rtnl.writes.size(), writes);
  EXPECT_FALSE(has("br-vm", "10.10.0.1/29"));
  EXPECT_TRUE(info.empty());
}

TEST_F(Healer, PortUnpluggedBridgeDownNexthopAndRouteGone) {
  auto& port = *std::find_if(rtnl.links_.begin(), rtnl.links_.end(),
                             [](const auto& l) { return l.name == "vnet-web"; });
  port.master = 0;
  auto& br = *std::find_if(rtnl.links_.begin(), rtnl.links_.end(),
                           [](const auto& l) { return l.name == "br-vm"; });
  br.up = false;
  ASSERT_FALSE(rtnl.nexthops_.empty());
  const auto nexthops = rtnl.nexthops_;
  rtnl.nexthops_.clear();  // the kernel deletes the routes through them too
  std::erase_if(rtnl.routes_, [](const auto& r) { return r.protocol == backend::kVmgwProtocol; });
  NetEvent e;
  e.kind = NetEvent::Kind::link;
  e.link.name = "vnet-web";
  e.link.up = true;
  net->events.push_back(e);
  healer->poll({net->fd()}, t0);
  EXPECT_TRUE(healer->poll({}, t0 + HostHealer::kQuiet));
  EXPECT_EQ(port.master, br.index);
  EXPECT_TRUE(br.up);
  EXPECT_EQ(rtnl.nexthops_.size(), nexthops.size());
  EXPECT_EQ(heals("bridge_port"), 1u);
  EXPECT_EQ(heals("link"), 1u);
  EXPECT_EQ(heals("nexthop"), nexthops.size());
  EXPECT_GE(heals("route"), 1u);
}

TEST_F(Healer, OtherProgramsObjectsAreLeftAlone) {
  backend::RouteInfo r{*Cidr::parse("10.99.0.0/16"), *Ipv4::parse("203.0.113.1"), "wan0"};
  r.protocol = 4;
  rtnl.routes_.push_back(r);
  backend::RuleInfo rule;
  rule.priority = 500;
  rule.table = 77;
  rtnl.rules_.push_back(rule);
  rtnl.addresses_.push_back({"wan0", addr("198.51.100.7/24")});
  // Something of vmgw's goes at the same time: the re-diff runs, and touches only that.
  address_removed("wan0", "203.0.113.16/32");
  healer->poll({net->fd()}, t0);
  healer->poll({}, t0 + HostHealer::kQuiet);
  EXPECT_TRUE(has("wan0", "203.0.113.16/32"));
  EXPECT_NE(std::find(rtnl.routes_.begin(), rtnl.routes_.end(), r), rtnl.routes_.end());
  EXPECT_NE(std::find(rtnl.rules_.begin(), rtnl.rules_.end(), rule), rtnl.rules_.end());
  EXPECT_TRUE(has("wan0", "198.51.100.7/24"));
  EXPECT_EQ(info.size(), 1u);
}

TEST_F(Healer, SysctlsOnNetconfAndOnTheTimer) {
  sysctl.values["net/ipv4/ip_forward"] = "0";
  NetEvent e;
  e.kind = NetEvent::Kind::netconf;
  net->events.push_back(e);
  EXPECT_TRUE(healer->poll({net->fd()}, t0 + 1ms));
  EXPECT_EQ(sysctl.values["net/ipv4/ip_forward"], "1");
  EXPECT_EQ(heals("sysctl"), 1u);
  // A sysctl without notification: read again within kSysctlPeriod.
  sysctl.values["net/ipv4/fib_multipath_hash_policy"] = "0";
  EXPECT_FALSE(healer->poll({}, t0 + 300ms));
  EXPECT_TRUE(healer->poll({}, t0 + 1ms + HostHealer::kSysctlPeriod));
  EXPECT_EQ(sysctl.values["net/ipv4/fib_multipath_hash_policy"], "1");
  EXPECT_EQ(heals("sysctl"), 2u);
  ASSERT_EQ(info.size(), 2u);
  EXPECT_EQ(info[0],
            "self-heal: restored sysctl: net.ipv4.ip_forward = 1 (noticed: IPv4 forwarding "
            "settings changed)");
}

TEST_F(Healer, HostsFileDeletedIsWrittenAgain) {
  ASSERT_EQ(dhcp.servers.size(), 1u);
  const std::string want = dhcp.servers[0].second;
  dhcp.servers[0].second = "";
  files->events.push_back({"vmnet.log", "written"});
  healer->poll({files->fd()}, t0);
  EXPECT_FALSE(healer->poll({}, t0 + 100ms));  // a log written: nothing to look at
  files->events.push_back({"vmnet.hosts", "deleted"});
  healer->poll({files->fd()}, t0 + 100ms);
  EXPECT_TRUE(healer->poll({}, t0 + 100ms + HostHealer::kQuiet));
  EXPECT_EQ(dhcp.servers[0].second, want);
  EXPECT_EQ(heals("hosts_file"), 1u);
  ASSERT_EQ(info.size(), 1u);
  EXPECT_EQ(info[0],
            "self-heal: restored hosts_file: the DHCP reservations of network vmnet (noticed: "
            "vmnet.hosts deleted, restored 20 ms later)");
}

TEST_F(Healer, ARefusalIsLoggedOnceAndRetried) {
  // The uplink's device is gone: its nexthop cannot be put back.
  std::erase_if(rtnl.links_, [](const auto& l) { return l.name == "wan0"; });
  rtnl.nexthops_.clear();
  NetEvent e;
  e.kind = NetEvent::Kind::lost;
  net->events.push_back(e);
  healer->poll({net->fd()}, t0);
  healer->poll({}, t0 + HostHealer::kQuiet);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_NE(errors[0].find("self-heal failed (tried again in 5 s)"), std::string::npos);
  healer->poll({}, t0 + HostHealer::kQuiet + HostHealer::kRetry);
  EXPECT_EQ(errors.size(), 1u);  // the same reason is not repeated
}

}  // namespace
}  // namespace vmgw::daemon
