// vmgwd following libvirt, against a fake libvirt and a Gateway on fake kernel backends: the
// domains' interfaces become VMs owned by their domain, kept equal to them through events, and
// never collide silently with what the API made.
#include "daemon/libvirt_follower.h"
#include "fake_gateway.h"

#include <gtest/gtest.h>

#include "backend/fake_hypervisor.h"
#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "daemon_topology.h"

namespace vmgw::daemon {
namespace {

using Clock = LibvirtFollower::Clock;

std::string domain_xml(const std::string& name, const std::string& mac, const std::string& tap,
                       const std::string& metadata = "") {
  return "<domain><name>" + name + "</name><uuid>uuid-" + name + "</uuid><metadata>" + metadata +
         "</metadata><devices><interface type='bridge'><mac address='" + mac +
         "'/><source bridge='br-vm'/>" + (tap.empty() ? "" : "<target dev='" + tap + "'/>") +
         "</interface></devices></domain>";
}

backend::DomainSnapshot running(const std::string& name, const std::string& mac,
                                const std::string& tap, const std::string& metadata = "") {
  return {"uuid-" + name, domain_xml(name, mac, tap, metadata), true};
}

backend::DomainSnapshot stopped(const std::string& name, const std::string& mac,
                                const std::string& metadata = "") {
  return {"uuid-" + name, domain_xml(name, mac, "", metadata), false};
}

const std::string kEipMetadata =
    "<v:vmgw xmlns:v='https://vmgw.dev/xmlns/libvirt/1'><v:interface mac='52:54:00:00:00:0a' "
    "eip-pool='public'/></v:vmgw>";

struct Follower : ::testing::Test, vmgw::testing::FakeGatewayHost {
  std::unique_ptr<Gateway> gw;
  backend::FakeHypervisor libvirt;
  std::unique_ptr<LibvirtFollower> follower;
  Clock::time_point now = Clock::now();

  void SetUp() override {
    rtnl.add_link("wan0", "veth");
    gw = std::make_unique<Gateway>(testing::topology(), deps());
    gw->start();
    follower = std::make_unique<LibvirtFollower>(
        *gw, libvirt, "test:///", std::vector<libvirt::FollowedNetwork>{{"vmnet", "br-vm"}});
  }
  bool events() {
    now += std::chrono::milliseconds(10);
    return follower->poll({libvirt.fd()}, now);
  }
  const store::VmRecord* vm(const std::string& name) { return gw->vm_record(name); }
};

TEST_F(Follower, AtStartEveryDomainsInterfaceIsAVmOwnedByItsDomain) {
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0"));
  libvirt.put(stopped("db", "52:54:00:00:00:0b"));
  follower->start(now);
  ASSERT_TRUE(vm("web"));
  EXPECT_EQ(vm("web")->port, "vnet0");
  EXPECT_EQ(vm("web")->owner, "libvirt:uuid-web");
  EXPECT_EQ(vm("web")->ip.str(), "10.10.0.3");  // db (uuid-db) came first
  // A defined domain that is not running holds its address, unplugged.
  ASSERT_TRUE(vm("db"));
  EXPECT_EQ(vm("db")->port, "");
  // Stored: a restarted vmgwd knows which VMs are libvirt's.
  EXPECT_EQ(store->load().vms.front().owner, "libvirt:uuid-db");
  EXPECT_TRUE(follower->status().connected);
  EXPECT_EQ(follower->status().domains, 2u);
}

TEST_F(Follower, StopKeepsTheElasticIpUndefineReleasesIt) {
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0", kEipMetadata));
  follower->start(now);
  ASSERT_TRUE(gw->eip_of("web"));
  const Ipv4 eip = gw->eip_of("web")->address;

  libvirt.put(stopped("web", "52:54:00:00:00:0a", kEipMetadata));
  EXPECT_TRUE(events());
  EXPECT_EQ(vm("web")->port, "");
  ASSERT_TRUE(gw->eip_of("web"));
  EXPECT_EQ(gw->eip_of("web")->address, eip);

  // Started again on another tap: plugged there, same address and elastic IP.
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet7", kEipMetadata));
  EXPECT_TRUE(events());
  EXPECT_EQ(vm("web")->port, "vnet7");
  EXPECT_EQ(gw->eip_of("web")->address, eip);

  libvirt.erase("uuid-web");
  EXPECT_TRUE(events());
  EXPECT_FALSE(vm("web"));
  EXPECT_TRUE(gw->state().eips.empty());  // released to the pool
}

TEST_F(Follower, AnElasticIpPoolGivenLaterInTheMetadataIsHonoured) {
  libvirt.put(stopped("web", "52:54:00:00:00:0a"));
  follower->start(now);
  EXPECT_FALSE(gw->eip_of("web"));
  libvirt.put(stopped("web", "52:54:00:00:00:0a", kEipMetadata));  // virsh metadata --set
  EXPECT_TRUE(events());
  EXPECT_TRUE(gw->eip_of("web"));
  // A pool with none left: the VM stays, the refusal says why.
  const std::string db_meta =
      "<v:vmgw xmlns:v='https://vmgw.dev/xmlns/libvirt/1'><v:interface mac='52:54:00:00:00:0b' "
      "eip-pool='public'/></v:vmgw>";
  gw->allocate_eip("public", std::nullopt);  // the pool's second and last address
  libvirt.put(stopped("db", "52:54:00:00:00:0b", db_meta));
  events();
  EXPECT_TRUE(vm("db"));
  EXPECT_FALSE(gw->eip_of("db"));
  bool said = false;
  for (const auto& line : follower->status().refused)
    said = said || line.find("vm 'db': no elastic IP from pool 'public'") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST_F(Follower, AStartedDomainIsPluggedAndFilteredInOneChange) {
  const std::string meta =
      "<v:vmgw xmlns:v='https://vmgw.dev/xmlns/libvirt/1'><v:interface mac='52:54:00:00:00:0a'>"
      "<v:filterref filter='clean-traffic'><v:parameter name='IP' value='10.10.0.4'/>"
      "</v:filterref></v:interface></v:vmgw>";
  libvirt.put(stopped("web", "52:54:00:00:00:0a", meta));
  follower->start(now);
  ASSERT_TRUE(vm("web"));
  EXPECT_TRUE(vm("web")->filters.empty());  // no tap to bind them to yet
  EXPECT_EQ(vm("web")->ip.str(), "10.10.0.4");
  const auto generation = gw->state().generation;
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0", meta));
  EXPECT_TRUE(events());
  EXPECT_EQ(gw->state().generation, generation + 1);  // one transaction: never plugged unfiltered
  EXPECT_EQ(vm("web")->port, "vnet0");
  ASSERT_EQ(vm("web")->filters.size(), 1u);
  EXPECT_EQ(vm("web")->filters[0].filter, "clean-traffic");
  libvirt.put(stopped("web", "52:54:00:00:00:0a", meta));
  EXPECT_TRUE(events());
  EXPECT_EQ(vm("web")->port, "");
  EXPECT_TRUE(vm("web")->filters.empty());
}

// docs/libvirt.md: a VM whose filters vmgwd does not know is refused, not made without them.
TEST_F(Follower, AnUnknownFilterInTheMetadataRefusesTheVm) {
  const std::string meta =
      "<v:vmgw xmlns:v='https://vmgw.dev/xmlns/libvirt/1'><v:interface mac='52:54:00:00:00:0a'>"
      "<v:filterref filter='not-defined'/></v:interface></v:vmgw>";
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0", meta));
  follower->start(now);
  EXPECT_FALSE(vm("web"));
  ASSERT_EQ(follower->status().refused.size(), 1u);
  EXPECT_NE(follower->status().refused[0].find("not-defined"), std::string::npos)
      << follower->status().refused[0];
}

TEST_F(Follower, NothingToDoChangesNothing) {
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0"));
  follower->start(now);
  const auto generation = gw->state().generation;
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0"));  // an event that changed nothing
  EXPECT_FALSE(events());
  EXPECT_EQ(gw->state().generation, generation);
}

TEST_F(Follower, AnApiVmIsNeverTakenOver) {
  gw->add_vm({"web", "vmnet", *Mac::parse("52:54:00:00:00:0c"), std::nullopt, "tap9"});
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0"));
  follower->start(now);
  EXPECT_EQ(vm("web")->port, "tap9");
  EXPECT_EQ(vm("web")->owner, "");
  auto s = follower->status();
  ASSERT_EQ(s.refused.size(), 1u);
  EXPECT_NE(s.refused[0].find("a VM of that name was made through the API"), std::string::npos)
      << s.refused[0];
  // And a domain's MAC another VM holds is refused with the gateway's reason.
  libvirt.put(running("db", "52:54:00:00:00:0c", "vnet1"));
  events();
  EXPECT_FALSE(vm("db"));
  bool said = false;
  for (const auto& line : follower->status().refused)
    said = said || line.find("52:54:00:00:00:0c is already used by vm 'web'") != std::string::npos;
  EXPECT_TRUE(said);
}

TEST_F(Follower, ADomainUndefinedWhileVmgwdWasAwayIsRemovedAtStart) {
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0"));
  follower->start(now);
  ASSERT_TRUE(vm("web"));
  // vmgwd restarts (a new follower on the same store), libvirt forgot the domain meanwhile.
  libvirt.erase("uuid-web");
  backend::FakeHypervisor after;
  LibvirtFollower again(*gw, after, "test:///", {{"vmnet", "br-vm"}});
  again.start(now);
  EXPECT_FALSE(vm("web"));
}

TEST_F(Follower, LibvirtAwayIsRetriedAndReconciledWhenBack) {
  libvirt.set_reachable(false);
  follower->start(now);
  EXPECT_FALSE(follower->status().connected);
  EXPECT_NE(follower->status().error.find("fake daemon down"), std::string::npos);
  EXPECT_EQ(follower->timeout_ms(1000, now), 1000);
  libvirt.put(running("web", "52:54:00:00:00:0a", "vnet0"));
  libvirt.set_reachable(true);
  EXPECT_FALSE(follower->poll({}, now + std::chrono::milliseconds(500)));  // not due yet
  EXPECT_TRUE(follower->poll({}, now + std::chrono::seconds(1)));
  EXPECT_TRUE(vm("web"));
  // Lost again while a domain is undefined: caught up after the reconnection.
  libvirt.lose_connection();
  libvirt.erase("uuid-web");
  EXPECT_FALSE(follower->poll({}, now + std::chrono::milliseconds(1500)));
  EXPECT_TRUE(follower->poll({}, now + std::chrono::seconds(3)));
  EXPECT_FALSE(vm("web"));
}

}  // namespace
}  // namespace vmgw::daemon
