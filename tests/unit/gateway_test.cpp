#include "daemon/gateway.h"
#include "fake_gateway.h"

#include <gtest/gtest.h>

#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "daemon_topology.h"
#include "model/load.h"
#include "nft/text.h"

namespace vmgw::daemon {
namespace {

using testing::kTopology;
using testing::topology;

struct Fixture : ::testing::Test, vmgw::testing::FakeGatewayHost {
  std::unique_ptr<Gateway> gw;

  void SetUp() override {
    rtnl.add_link("wan0", "veth");
    gw = std::make_unique<Gateway>(config(), deps());
    gw->start();
  }
  // The topology the gateway starts with; a fixture of its own may give another.
  virtual Config config() { return topology(); }
  VmRequest vm(const std::string& name, const std::string& mac) {
    return {name, "vmnet", *Mac::parse(mac), std::nullopt, ""};
  }
  std::vector<std::string> elements(const std::string& set) {
    auto t = nft.read_table("inet", "vmgw");
    std::vector<std::string> out;
    for (const auto& e : t->find_set(set)->elements)
      out.push_back(nft::element_text(*t->find_set(set), e));
    return out;
  }
  int status_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const ServiceError& e) {
      return e.status;
    }
    return 0;
  }
};

TEST_F(Fixture, AddVmReservesTheNextFreeAddressAndPersists) {
  EXPECT_EQ(gw->add_vm(vm("web", "52:54:00:00:00:0a")).ip.str(), "10.10.0.2");
  EXPECT_EQ(gw->add_vm(vm("db", "52:54:00:00:00:0b")).ip.str(), "10.10.0.3");
  EXPECT_EQ(store->load().vms.size(), 2u);
  EXPECT_EQ(store->load().generation, 2u);
  EXPECT_EQ(dhcp.servers[0].second,
            "52:54:00:00:00:0a,10.10.0.2,web\n52:54:00:00:00:0b,10.10.0.3,db\n");
}

TEST_F(Fixture, AddVmIsOneSmallTransaction) {
  const int before = nft.batches_applied;
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  EXPECT_EQ(nft.batches_applied, before + 1);
  // Only the new VM's chains, rules and map elements: no base chain rewritten.
  for (const auto& cmd : nft.batches.back()["nftables"])
    EXPECT_FALSE(cmd.contains("flush")) << cmd.dump();
}

TEST_F(Fixture, ConflictsAre409AndChangeNothing) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  const auto batches = nft.batches_applied;
  EXPECT_EQ(status_of([&] { gw->add_vm(vm("web", "52:54:00:00:00:0c")); }), 409);
  EXPECT_EQ(status_of([&] { gw->add_vm(vm("other", "52:54:00:00:00:0a")); }), 409);
  auto same_ip = vm("x", "52:54:00:00:00:0d");
  same_ip.ip = Ipv4::parse("10.10.0.2");
  EXPECT_EQ(status_of([&] { gw->add_vm(same_ip); }), 409);
  EXPECT_EQ(nft.batches_applied, batches);
  EXPECT_EQ(store->load().vms.size(), 1u);
}

// The gateway's total of set elements is bounded: the VM that would pass it is refused (413,
// naming the limit) and changes nothing; removing a VM is always allowed.
TEST_F(Fixture, AChangeThatPassesTheTotalOfSetElementsIs413AndChangesNothing) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  gw->limit_set_elements(1);  // one VM holds more than one element already
  const auto batches = nft.batches_applied;
  const std::string hosts = dhcp.servers[0].second;
  try {
    gw->add_vm(vm("db", "52:54:00:00:00:0b"));
    ADD_FAILURE() << "the second VM was accepted";
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status, 413);
    EXPECT_NE(e.errors.at(0).second.find("over the limit set_elements_total (1)"),
              std::string::npos)
        << e.errors.at(0).second;
  }
  EXPECT_EQ(nft.batches_applied, batches);
  EXPECT_EQ(store->load().vms.size(), 1u);
  EXPECT_EQ(dhcp.servers[0].second, hosts);
  EXPECT_EQ(gw->find_vm("db"), nullptr);
  gw->remove_vm("web", false);
  EXPECT_EQ(store->load().vms.size(), 0u);
}

TEST_F(Fixture, InvalidAddressIs400NamingTheField) {
  auto outside = vm("x", "52:54:00:00:00:0d");
  outside.ip = Ipv4::parse("10.99.0.5");
  try {
    gw->add_vm(outside);
    FAIL();
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status, 400);
    EXPECT_EQ(e.errors.at(0).first, "ip");  // the request's own field
    EXPECT_NE(e.errors.at(0).second.find("outside network 'vmnet'"), std::string::npos);
  }
  EXPECT_TRUE(store->load().vms.empty());
}

TEST_F(Fixture, SubnetFullIs409) {
  for (int i = 0; i < 5; ++i)
    gw->add_vm(vm("vm" + std::to_string(i), "52:54:00:00:00:1" + std::to_string(i)));
  EXPECT_EQ(status_of([&] { gw->add_vm(vm("one-more", "52:54:00:00:00:20")); }), 409);
}

TEST_F(Fixture, ElasticIpLifecycle) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  gw->add_vm(vm("db", "52:54:00:00:00:0b"));
  auto eip = gw->allocate_eip(std::nullopt, std::nullopt);
  EXPECT_EQ(eip.address.str(), "203.0.113.16");
  EXPECT_TRUE(elements("eip_dnat").empty());  // allocated, not bound: nothing in the kernel

  gw->bind_eip(eip.address, "web");
  EXPECT_EQ(elements("eip_dnat"), std::vector<std::string>{"203.0.113.16 : 10.10.0.2"});
  EXPECT_EQ(announcer.announcements.back().device, "wan0");

  // Move: one transaction, old flows cut.
  const auto batches = nft.batches_applied;
  gw->bind_eip(eip.address, "db");
  EXPECT_EQ(nft.batches_applied, batches + 1);
  EXPECT_EQ(elements("eip_dnat"), std::vector<std::string>{"203.0.113.16 : 10.10.0.3"});
  ASSERT_EQ(conntrack.filters.size(), 2u);
  EXPECT_EQ(conntrack.filters[0].orig_dst, eip.address);
  EXPECT_EQ(conntrack.filters[0].reply_src, Ipv4::parse("10.10.0.2"));

  EXPECT_EQ(status_of([&] { gw->release_eip(eip.address); }), 409);  // still bound
  gw->unbind_eip(eip.address);
  EXPECT_TRUE(elements("eip_dnat").empty());
  gw->release_eip(eip.address);
  EXPECT_TRUE(store->load().eips.empty());
}

TEST_F(Fixture, PoolExhaustionIs409) {
  gw->allocate_eip(std::nullopt, std::nullopt);
  gw->allocate_eip(std::string("public"), std::nullopt);
  try {
    gw->allocate_eip(std::nullopt, std::nullopt);
    FAIL();
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status, 409);
    EXPECT_EQ(e.errors[0].second, "pool 'public' is exhausted (2 addresses, all allocated)");
  }
  EXPECT_EQ(status_of([&] { gw->allocate_eip(std::nullopt, Ipv4::parse("203.0.113.16")); }), 409);
  EXPECT_EQ(status_of([&] { gw->allocate_eip(std::nullopt, Ipv4::parse("198.51.100.1")); }), 400);
  EXPECT_EQ(status_of([&] { gw->allocate_eip(std::string("nope"), std::nullopt); }), 404);
}

TEST_F(Fixture, RemovingAVmUnbindsItsElasticIpAndDropsItsForwardsInOneTransaction) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  auto eip = gw->allocate_eip(std::nullopt, std::nullopt);
  gw->bind_eip(eip.address, "web");
  gw->add_forward({*Ipv4::parse("203.0.113.2"), Proto::tcp, {8080, 8080}, "web", {80, 80}});
  const auto batches = nft.batches_applied;
  auto removed = gw->remove_vm("web", false);
  EXPECT_EQ(nft.batches_applied, batches + 1);
  EXPECT_EQ(removed.unbound.size(), 1u);
  EXPECT_EQ(removed.forwards.size(), 1u);
  EXPECT_TRUE(elements("eip_dnat").empty());
  EXPECT_TRUE(elements("pf_addr").empty());
  EXPECT_TRUE(elements("vm_egress").empty());
  auto s = store->load();
  ASSERT_EQ(s.eips.size(), 1u);
  EXPECT_EQ(s.eips[0].vm, "");  // still allocated
  EXPECT_EQ(dhcp.servers[0].second, "");

  gw->add_vm(vm("db", "52:54:00:00:00:0b"));
  gw->bind_eip(eip.address, "db");
  gw->remove_vm("db", true);
  EXPECT_TRUE(store->load().eips.empty());  // released with --release
}

// vm set: the VM's address changes in place; its elastic IP and forward follow it in the same
// transaction, the store keeps them, and the flows of the old address are cut.
TEST_F(Fixture, SettingAVmsAddressKeepsItsElasticIpAndForwardsPointingAtIt) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  gw->add_vm(vm("db", "52:54:00:00:00:0b"));
  auto eip = gw->allocate_eip(std::nullopt, std::nullopt);
  gw->bind_eip(eip.address, "web");
  gw->add_forward({*Ipv4::parse("203.0.113.2"), Proto::tcp, {8080, 8080}, "web", {80, 80}});
  const auto pf_before = elements("pf_addr");
  ASSERT_EQ(pf_before.size(), 1u);
  EXPECT_NE(pf_before[0].find("10.10.0.2"), std::string::npos) << pf_before[0];

  // A flow through the elastic IP to web's old address, and one of db's.
  backend::ConntrackFlow to_web{6,
                                *Ipv4::parse("198.51.100.7"),
                                eip.address,
                                40000,
                                80,
                                *Ipv4::parse("10.10.0.2"),
                                *Ipv4::parse("198.51.100.7"),
                                80,
                                40000};
  backend::ConntrackFlow of_db{
      6,    *Ipv4::parse("10.10.0.3"),    *Ipv4::parse("198.51.100.7"), 40001,
      443,  *Ipv4::parse("198.51.100.7"), *Ipv4::parse("203.0.113.2"),  443,
      40001};
  conntrack.flows = {to_web, of_db};
  const auto batches = nft.batches_applied;
  const auto generation = store->load().generation;
  auto rec = gw->set_vm("web", {std::nullopt, Ipv4::parse("10.10.0.5"), std::nullopt});
  EXPECT_EQ(rec.ip.str(), "10.10.0.5");
  EXPECT_EQ(nft.batches_applied, batches + 1) << "one transaction";
  EXPECT_EQ(elements("eip_dnat"), std::vector<std::string>{"203.0.113.16 : 10.10.0.5"});
  const auto pf_after = elements("pf_addr");
  ASSERT_EQ(pf_after.size(), 1u);
  EXPECT_NE(pf_after[0].find("10.10.0.5"), std::string::npos) << pf_after[0];
  auto s = store->load();
  EXPECT_EQ(s.generation, generation + 1);
  ASSERT_EQ(s.eips.size(), 1u);
  EXPECT_EQ(s.eips[0].vm, "web");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].vm, "web");
  EXPECT_EQ(gw->find_vm("web")->ip->str(), "10.10.0.5");
  EXPECT_NE(dhcp.servers[0].second.find("52:54:00:00:00:0a,10.10.0.5,web"), std::string::npos)
      << dhcp.servers[0].second;
  EXPECT_EQ(conntrack.deletions, std::vector<backend::ConntrackFlow>{to_web})
      << "the old address's flows are cut, no other";

  // The MAC and the port change alone; the same values again change nothing.
  gw->set_vm("web", {Mac::parse("52:54:00:00:00:1a"), std::nullopt, std::string("vnet9")});
  for (const auto& v : store->load().vms)
    if (v.name == "web") {
      EXPECT_EQ(v.port, "vnet9");
    }
  EXPECT_EQ(gw->find_vm("web")->port, "vnet9");
  const auto again = nft.batches_applied;
  const auto generation_now = store->load().generation;
  gw->set_vm("web", {Mac::parse("52:54:00:00:00:1a"), std::nullopt, std::string("vnet9")});
  EXPECT_EQ(nft.batches_applied, again) << "nothing to do";
  EXPECT_EQ(store->load().generation, generation_now) << "no new generation";

  // Another VM's MAC or address: 409; an address outside the network: 400; no such VM: 404.
  EXPECT_EQ(status_of([&] { gw->set_vm("web", {Mac::parse("52:54:00:00:00:0b"), {}, {}}); }), 409);
  EXPECT_EQ(status_of([&] { gw->set_vm("web", {{}, Ipv4::parse("10.10.0.3"), {}}); }), 409);
  EXPECT_EQ(status_of([&] { gw->set_vm("web", {{}, Ipv4::parse("10.99.0.3"), {}}); }), 400);
  EXPECT_EQ(status_of([&] { gw->set_vm("nope", {{}, Ipv4::parse("10.10.0.6"), {}}); }), 404);
  EXPECT_EQ(gw->find_vm("web")->ip->str(), "10.10.0.5") << "refusals changed nothing";
}

// vm add --eip: the VM and its elastic IP in one transaction; a pool with nothing left refuses
// the whole call (no VM without the address it asked for).
TEST_F(Fixture, AddingAVmWithAnElasticIpAllocatesAndBindsItInOneTransaction) {
  const auto batches = nft.batches_applied;
  auto web = vm("web", "52:54:00:00:00:0a");
  web.eip_pool = "";
  gw->add_vm(web);
  EXPECT_EQ(nft.batches_applied, batches + 1);
  ASSERT_NE(gw->eip_of("web"), nullptr);
  EXPECT_EQ(gw->eip_of("web")->address.str(), "203.0.113.16");
  EXPECT_EQ(elements("eip_dnat"), std::vector<std::string>{"203.0.113.16 : 10.10.0.2"});
  auto s = store->load();
  ASSERT_EQ(s.eips.size(), 1u);
  EXPECT_EQ(s.eips[0].vm, "web");
  EXPECT_EQ(s.eips[0].pool, "public");

  auto db = vm("db", "52:54:00:00:00:0b");
  db.eip_pool = "public";
  gw->add_vm(db);
  EXPECT_EQ(gw->eip_of("db")->address.str(), "203.0.113.17");

  auto app = vm("app", "52:54:00:00:00:0c");
  app.eip_pool = "public";
  EXPECT_EQ(status_of([&] { gw->add_vm(app); }), 409) << "the pool's two addresses are taken";
  EXPECT_EQ(gw->find_vm("app"), nullptr) << "no VM without its elastic IP";
  app.eip_pool = "nope";
  EXPECT_EQ(status_of([&] { gw->add_vm(app); }), 404);
  EXPECT_EQ(store->load().vms.size(), 2u);
}

TEST_F(Fixture, KernelRefusalLeavesStoreAndStateUnchanged) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  auto before = store->load();
  nft.fail_next_with = "Error: injected";
  EXPECT_EQ(status_of([&] { gw->add_vm(vm("db", "52:54:00:00:00:0b")); }), 500);
  EXPECT_EQ(store->load(), before);
  EXPECT_EQ(gw->state(), before);
  EXPECT_EQ(elements("vm_egress").size(), 1u);
}

TEST_F(Fixture, KernelRefusalNamesTheChangeAndTheCommandRefused) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  nft.fail_next_with = "Error: Could not process rule: Too many open files in system";
  nft.fail_next_at = 0;
  try {
    gw->add_vm(vm("db", "52:54:00:00:00:0b"));
    FAIL() << "the refusal was not reported";
  } catch (const ServiceError& e) {
    ASSERT_EQ(e.errors.size(), 1u);
    // What the operator asked, the first command of the delta (as the fake was told), and what
    // the kernel said.
    EXPECT_EQ(e.errors[0].second.rfind("the kernel refused to add vm 'db': add ", 0), 0u)
        << e.errors[0].second;
    EXPECT_NE(e.errors[0].second.find(" inet vmgw "), std::string::npos) << e.errors[0].second;
    EXPECT_NE(e.errors[0].second.find(": Error: Could not process rule: Too many open files in "
                                      "system; the previous state is in force"),
              std::string::npos)
        << e.errors[0].second;
  }
}

TEST_F(Fixture, RestartRestoresEverythingAndWritesNothing) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  auto eip = gw->allocate_eip(std::nullopt, std::nullopt);
  gw->bind_eip(eip.address, "web");
  const auto batches = nft.batches_applied;
  Gateway again(topology(), deps());
  auto report = again.start();
  EXPECT_FALSE(report.changed()) << report.summary();
  EXPECT_EQ(nft.batches_applied, batches);
  EXPECT_EQ(again.state(), gw->state());
}

TEST_F(Fixture, ForwardConflictsAndRemoval) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  store::ForwardRecord f{
      *Ipv4::parse("203.0.113.2"), Proto::tcp, {8000, 8010}, "web", {8000, 8010}};
  gw->add_forward(f);
  auto overlapping = f;
  overlapping.public_ports = {8010, 8010};
  overlapping.vm_ports = {80, 80};
  EXPECT_EQ(status_of([&] { gw->add_forward(overlapping); }), 409);
  auto to_ghost = f;
  to_ghost.public_ports = to_ghost.vm_ports = {9000, 9000};
  to_ghost.vm = "ghost";
  EXPECT_EQ(status_of([&] { gw->add_forward(to_ghost); }), 400);
  EXPECT_EQ(elements("pf_addr").size(), 11u);
  gw->remove_forward(f.public_address, Proto::tcp, 8000);
  EXPECT_TRUE(elements("pf_addr").empty());
  EXPECT_EQ(status_of([&] { gw->remove_forward(f.public_address, Proto::tcp, 8000); }), 404);
}

TEST_F(Fixture, ReloadAppliesAValidTopologyAsADelta) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  auto t = topology();
  HostService ssh;
  ssh.proto = Proto::tcp;
  ssh.ports = {PortRange{22, 22}};
  ssh.port_text = {"22"};
  t.host.allow.push_back(ssh);
  auto report = gw->reload(t);
  EXPECT_EQ(report.nft.chains_changed, 1);  // filter_input only
  EXPECT_EQ(report.nft.elements_added, 0);
  EXPECT_EQ(gw->topology().host.allow.size(), 1u);
  EXPECT_EQ(elements("vm_egress").size(), 1u);  // API objects untouched
}

TEST_F(Fixture, ReloadWithATopologyThatNoLongerFitsKeepsTheOldOne) {
  gw->add_vm(vm("web", "52:54:00:00:00:0a"));
  auto t = topology();
  t.networks[0].subnet = Cidr::parse("10.20.0.0/24");
  t.networks[0].gateway = Ipv4::parse("10.20.0.1");
  EXPECT_EQ(status_of([&] { gw->reload(t); }), 400);
  EXPECT_EQ(gw->topology().networks[0].subnet->str(), "10.10.0.0/29");
}

}  // namespace
}  // namespace vmgw::daemon

namespace vmgw::daemon {
namespace {

TEST(GatewayTopology, FileDeclaringApiObjectsIsRefusedNamingEachKind) {
  auto r = load_config(std::string(kTopology) + R"(
vms:
  - {name: web, network: vmnet, mac: "52:54:00:00:00:0a", ip: 10.10.0.2}
)",
                       "vmgw.yaml");
  const Config c = std::get<Validated<Config>>(std::move(r)).get();
  try {
    Gateway::check_topology(c);
    FAIL();
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status, 400);
    ASSERT_EQ(e.errors.size(), 1u);
    EXPECT_EQ(e.errors[0].first, "vms");
  }
  EXPECT_NO_THROW(Gateway::check_topology(topology()));
}

}  // namespace
}  // namespace vmgw::daemon

namespace vmgw::daemon {
namespace {

// A network whose automatic addresses come from a range: a VM added without an address gets
// the first free one of the range, an explicit address may lie outside it, and a full range is
// a 409 naming it.
struct RangeFixture : Fixture {
  Config config() override {
    auto r = load_config(R"(
uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, dhcp: true,
     lease_time: 600, range: 10.10.0.100-10.10.0.101, masquerade: [isp1]}
)",
                         "vmgw.yaml");
    return std::get<Validated<Config>>(std::move(r)).get();
  }
};

TEST_F(RangeFixture, AutomaticAddressesComeFromTheNetworksRange) {
  EXPECT_EQ(gw->add_vm(vm("a", "52:54:00:00:00:0a")).ip.str(), "10.10.0.100");
  auto fixed = vm("b", "52:54:00:00:00:0b");
  fixed.ip = Ipv4::parse("10.10.0.20");
  EXPECT_EQ(gw->add_vm(fixed).ip.str(), "10.10.0.20") << "an explicit address outside the range";
  EXPECT_EQ(gw->add_vm(vm("c", "52:54:00:00:00:0c")).ip.str(), "10.10.0.101");
  try {
    gw->add_vm(vm("d", "52:54:00:00:00:0d"));
    ADD_FAILURE() << "the range is full";
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status, 409);
    EXPECT_NE(std::string(e.what()).find("10.10.0.100-10.10.0.101"), std::string::npos) << e.what();
  }
  ASSERT_EQ(gw->live_plan().dhcp().size(), 1u);
  EXPECT_EQ(gw->live_plan().dhcp()[0].lease_time, 600u);
}

}  // namespace
}  // namespace vmgw::daemon
