// The pure part of self-healing: which notifications call for a re-diff, the debounce, the kinds.
#include "daemon/host_heal.h"

#include <gtest/gtest.h>

namespace vmgw::daemon {
namespace {

using backend::NetEvent;
using K = NetEvent::Kind;

InterfaceAddress addr(const char* s) {
  return *InterfaceAddress::parse(s);
}

// The host part of a plan: a bridge with a VM's port, the bridge's gateway, an elastic IP in its
// range on the uplink, an uplink nexthop, a group, a route through it, a rule.
Plan host() {
  Plan p;
  p.bridges.push_back({"br-vm"});
  p.ports.push_back({"vnet-web", "br-vm"});
  p.addresses.push_back({"br-vm", addr("10.10.0.1/24")});
  p.addresses.push_back({"wan0", addr("203.0.113.17/32")});
  p.managed_ranges.push_back({"wan0", *Ipv4::parse("203.0.113.16"), *Ipv4::parse("203.0.113.31")});
  p.nexthops.push_back({1167, "wan0", Ipv4::parse("203.0.113.1"), {}, "uplink isp1"});
  p.nexthops.push_back({3000, "", std::nullopt, {{1167, 1}}, "host"});
  p.routes.push_back({*Cidr::parse("0.0.0.0/0"), 1167, 0, 3000, false});
  p.rules.push_back({10100, std::nullopt, 0xa70000, 0xff0000, 1167, false, "mark"});
  return p;
}

NetEvent link(const std::string& name, bool up, const std::string& master, bool removed = false) {
  NetEvent e;
  e.kind = K::link;
  e.link.name = name;
  e.link.up = up;
  e.master = master;
  e.removed = removed;
  return e;
}

NetEvent address(const std::string& device, const char* a, bool removed) {
  NetEvent e;
  e.kind = K::address;
  e.address = {device, addr(a)};
  e.removed = removed;
  return e;
}

NetEvent route(backend::RouteInfo r, bool removed) {
  NetEvent e;
  e.kind = K::route;
  e.route = r;
  e.removed = removed;
  return e;
}

const Recheck kNothing{false, false}, kNet{true, false};

TEST(HostHeal, OwnObjectsGoneCallForARediff) {
  auto o = owned_of(host());
  EXPECT_EQ(recheck_for(address("wan0", "203.0.113.17/32", true), o), kNet);
  EXPECT_EQ(recheck_for(address("br-vm", "10.10.0.1/24", true), o), kNet);
  EXPECT_EQ(recheck_for(route(o.routes[0], true), o), kNet);
  NetEvent rule;
  rule.kind = K::rule;
  rule.rule = o.rules[0];
  rule.removed = true;
  EXPECT_EQ(recheck_for(rule, o), kNet);
  NetEvent nh;
  nh.kind = K::nexthop;
  nh.nexthop = o.nexthops.at(1167);
  nh.removed = true;
  EXPECT_EQ(recheck_for(nh, o), kNet);
  nh.removed = false;
  nh.nexthop.gateway = *Ipv4::parse("203.0.113.9");  // replaced by another program
  EXPECT_EQ(recheck_for(nh, o), kNet);
}

TEST(HostHeal, OwnWritesCallForNothing) {
  // What vmgw itself wrote arrives as the plan in force already holds it.
  auto o = owned_of(host());
  EXPECT_EQ(recheck_for(address("wan0", "203.0.113.17/32", false), o), kNothing);
  EXPECT_EQ(recheck_for(route(o.routes[0], false), o), kNothing);
  NetEvent nh;
  nh.kind = K::nexthop;
  nh.nexthop = o.nexthops.at(3000);
  EXPECT_EQ(recheck_for(nh, o), kNothing);
  EXPECT_EQ(recheck_for(link("br-vm", true, ""), o), kNothing);
  EXPECT_EQ(recheck_for(link("vnet-web", true, "br-vm"), o), kNothing);
  // An elastic IP unbound by vmgw: its address leaves, and the plan no longer has it.
  EXPECT_EQ(recheck_for(address("wan0", "203.0.113.18/32", true), o), kNothing);
}

// vmgwd judges notifications against the plan in force's base and looks the objects' ports and
// addresses up in it (owned_of(LivePlan)): the same answers as from the whole host plan, and a
// change of objects is seen without building anything again.
TEST(HostHeal, ObjectsLookedUpInThePlanInForceAnswerAsTheWholeHostPlan) {
  Plan base = host();
  base.ports.clear();         // the VM's port and
  base.addresses.pop_back();  // its elastic IP come from objects below
  Contribution vm, eip;
  vm.ports.push_back({"vnet-web", "br-vm"});
  eip.addresses.push_back({"wan0", addr("203.0.113.17/32")});
  LivePlan live;
  live.reset(base, {{"vm/web", vm}, {"eip/203.0.113.17", eip}});
  const Owned looked_up = owned_of(live);
  const Owned copied = owned_of(live.host());
  const std::vector<NetEvent> events = {
      link("vnet-web", true, "br-vm"),
      link("vnet-web", true, ""),
      link("vnet-web", false, "br-vm"),
      link("vnet-web", true, "br-vm", true),
      link("vnet-other", true, ""),
      address("wan0", "203.0.113.17/32", true),
      address("wan0", "203.0.113.17/32", false),
      address("wan0", "203.0.113.18/32", false),
      address("br-vm", "10.10.0.1/24", true),
  };
  for (const auto& e : events) {
    EXPECT_EQ(recheck_for(e, looked_up), recheck_for(e, copied))
        << "link " << e.link.name << " address " << e.address.address.str();
  }
  EXPECT_EQ(recheck_for(link("vnet-web", true, ""), looked_up), kNet);  // unplugged
  EXPECT_EQ(recheck_for(address("wan0", "203.0.113.17/32", true), looked_up), kNet);

  // The VM goes and the elastic IP is unbound: the same Owned now calls for nothing on either.
  live.commit({{"vm/web", std::nullopt}, {"eip/203.0.113.17", std::nullopt}});
  EXPECT_EQ(recheck_for(link("vnet-web", true, ""), looked_up), kNothing);
  EXPECT_EQ(recheck_for(address("wan0", "203.0.113.17/32", true), looked_up), kNothing);
  // A port handed from one VM to another in one change stays owned, whatever the order.
  live.commit({{"vm/a", vm}});
  live.commit({{"vm/b", vm}, {"vm/a", std::nullopt}});
  EXPECT_EQ(recheck_for(link("vnet-web", true, ""), looked_up), kNet);
}

TEST(HostHeal, LinksVmgwOwns) {
  auto o = owned_of(host());
  EXPECT_EQ(recheck_for(link("br-vm", false, ""), o), kNet);              // set down
  EXPECT_EQ(recheck_for(link("br-vm", false, "", true), o), kNet);        // deleted
  EXPECT_EQ(recheck_for(link("vnet-web", true, ""), o), kNet);            // unplugged
  EXPECT_EQ(recheck_for(link("vnet-web", true, "br-other"), o), kNet);    // moved
  EXPECT_EQ(recheck_for(link("vnet-web", false, "br-vm"), o), kNet);      // set down
  EXPECT_EQ(recheck_for(link("vnet-web", true, "", true), o), kNothing);  // its VM stopped
  EXPECT_EQ(recheck_for(link("docker0", false, ""), o), kNothing);
}

TEST(HostHeal, OtherProgramsObjectsAreNotContradictions) {
  auto o = owned_of(host());
  // An address outside vmgw's ranges, on its uplink and elsewhere.
  EXPECT_EQ(recheck_for(address("wan0", "198.51.100.7/24", false), o), kNothing);
  EXPECT_EQ(recheck_for(address("eth9", "203.0.113.20/32", false), o), kNothing);
  // A static route and a rule of another protocol, in tables vmgw does not use.
  backend::RouteInfo r{*Cidr::parse("10.99.0.0/16"), *Ipv4::parse("203.0.113.1"), "wan0"};
  r.protocol = 4;
  EXPECT_EQ(recheck_for(route(r, false), o), kNothing);
  EXPECT_EQ(recheck_for(route(r, true), o), kNothing);
  NetEvent rule;
  rule.kind = K::rule;
  rule.rule.priority = 500;
  rule.rule.table = 77;
  rule.rule.protocol = 4;
  EXPECT_EQ(recheck_for(rule, o), kNothing);
  NetEvent nh;
  nh.kind = K::nexthop;
  nh.nexthop = {42, "wan0", *Ipv4::parse("203.0.113.1"), {}, 4};
  EXPECT_EQ(recheck_for(nh, o), kNothing);
}

TEST(HostHeal, StrangersOfVmgwsOwnKindAreContradictions) {
  auto o = owned_of(host());
  // An address in the elastic IP range vmgw owns (net_diff removes it).
  EXPECT_EQ(recheck_for(address("wan0", "203.0.113.20/32", false), o), kNet);
  // A route in the place of vmgw's (same table, destination, metric), of another protocol.
  backend::RouteInfo r = o.routes[0];
  r.nexthop = 0;
  r.gateway = *Ipv4::parse("203.0.113.99");
  r.device = "wan0";
  r.protocol = 4;
  EXPECT_EQ(recheck_for(route(r, false), o), kNet);
  // Objects of vmgw's protocol it does not plan (left over).
  NetEvent rule;
  rule.kind = K::rule;
  rule.rule.priority = 10999;
  rule.rule.protocol = backend::kVmgwProtocol;
  EXPECT_EQ(recheck_for(rule, o), kNet);
}

TEST(HostHeal, NetconfAndLostNotifications) {
  auto o = owned_of(host());
  NetEvent netconf;
  netconf.kind = K::netconf;
  EXPECT_EQ(recheck_for(netconf, o), (Recheck{false, true}));
  EXPECT_EQ(recheck_for(NetEvent{}, o), (Recheck{true, true}));
}

TEST(HostHeal, TimerWaitsForAQuietMomentButNotForever) {
  using namespace std::chrono_literals;
  HealTimer t(20ms, 200ms);
  HealTimer::Clock::time_point t0{};
  EXPECT_FALSE(t.due());
  t.noticed(t0);
  EXPECT_FALSE(t.ready(t0 + 19ms));
  EXPECT_TRUE(t.ready(t0 + 20ms));
  t.noticed(t0 + 15ms);  // a burst goes on: wait for it to end
  EXPECT_FALSE(t.ready(t0 + 30ms));
  EXPECT_TRUE(t.ready(t0 + 35ms));
  for (int i = 0; i < 20; ++i) t.noticed(t0 + i * 10ms);  // a steady stream
  EXPECT_EQ(*t.due(), t0 + 200ms);
  t.done();
  EXPECT_FALSE(t.due());
}

TEST(HostHeal, TimerPacesAFightWithAnotherProgram) {
  using namespace std::chrono_literals;
  HealTimer t(20ms, 200ms);
  HealTimer::Clock::time_point t0{};
  auto heal_at = [&](HealTimer::Clock::time_point at, const std::string& object) {
    t.noticed(at);
    EXPECT_TRUE(t.ready(at + 20ms));
    t.done();
    return t.healed(at + 20ms, {object});
  };
  // Different objects restored one after the other: no fight.
  for (int i = 0; i < 8; ++i) EXPECT_FALSE(heal_at(t0 + i * 100ms, "object " + std::to_string(i)));
  EXPECT_FALSE(t.fighting());
  // The same object, again and again.
  for (int i = 0; i < 4; ++i) EXPECT_FALSE(heal_at(t0 + 1s + i * 100ms, "add address a"));
  EXPECT_EQ(heal_at(t0 + 1400ms, "add address a"), "add address a");  // the fifth: said once
  EXPECT_TRUE(t.fighting());
  t.noticed(t0 + 1500ms);
  EXPECT_FALSE(t.ready(t0 + 1520ms));  // paced: a second after the last restore
  EXPECT_EQ(*t.due(), t0 + 1420ms + HealTimer::kFightPace);
  t.done();
  EXPECT_FALSE(t.healed(t0 + 2420ms, {"add address a"}));  // still the same fight: not said again
  // The other program stopped: a contradiction long after is restored at the usual pace.
  t.noticed(t0 + 60s);
  EXPECT_TRUE(t.ready(t0 + 60s + 20ms));
  t.done();
  EXPECT_FALSE(t.healed(t0 + 60s + 20ms, {"add address a"}));
  EXPECT_FALSE(t.fighting());
}

TEST(HostHeal, KindsAndHostsFiles) {
  EXPECT_EQ(heal_kind(NetOp::Kind::add_address), "address");
  EXPECT_EQ(heal_kind(NetOp::Kind::set_master), "bridge_port");
  EXPECT_EQ(heal_kind(NetOp::Kind::set_up), "link");
  EXPECT_EQ(heal_kind(NetOp::Kind::replace_route), "route");
  EXPECT_EQ(heal_kind(NetOp::Kind::add_rule), "rule");
  EXPECT_EQ(heal_kind(NetOp::Kind::replace_nexthop), "nexthop");
  EXPECT_TRUE(concerns_hosts({"vmnet.hosts", "deleted"}));
  EXPECT_TRUE(concerns_hosts({"", "events lost"}));
  EXPECT_FALSE(concerns_hosts({"vmnet.log", "written"}));
  EXPECT_FALSE(concerns_hosts({"vmnet.events", "written"}));
  EXPECT_FALSE(concerns_hosts({".hosts", "written"}));
}

}  // namespace
}  // namespace vmgw::daemon
