// All or nothing per change: a change that fails at any step -- the kernel's batch, a link or
// address, the DHCP hosts file, the store's commit -- leaves the store, the kernel (fake), the
// hosts file, the addresses and the plan in vmgwd's memory as they were. And when even the step
// back fails (the state directory is full), the plan in memory is the previous one all the same,
// and the host is put back as soon as it can be (host_behind()).
#include <gtest/gtest.h>

#include <array>

#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "daemon/gateway.h"
#include "daemon_topology.h"
#include "model/load.h"
#include "nft/text.h"

namespace vmgw::daemon {
namespace {

using testing::topology;

// A disk that can be full: every write of a hosts file fails while `full`.
struct FlakyDhcp : backend::FakeDhcp {
  bool full = false;
  bool fill_after_next_write = false;  // the write that takes the last free block
  std::string ensure(const DhcpServer& s) override {
    for (const auto& [net, hosts] : servers)
      if (net == s.network && hosts != s.hosts_file() && full)
        throw std::runtime_error("cannot write vmnet.hosts: No space left on device");
    auto what = FakeDhcp::ensure(s);
    if (fill_after_next_write && !what.empty()) full = true, fill_after_next_write = false;
    return what;
  }
};

struct FlakyRtnl : backend::FakeRtnl {
  bool fail = false;
  void add_address(const backend::AddressInfo& a) override {
    if (fail) throw backend::RtnlError("add address " + a.address.str() + ": No such device");
    FakeRtnl::add_address(a);
  }
  void set_master(const std::string& port, const std::string& bridge) override {
    if (fail) throw backend::RtnlError("set master of " + port + ": No such device");
    FakeRtnl::set_master(port, bridge);
  }
};

// The memory store, whose commit can fail (SQLITE_FULL) after every write was accepted.
struct FlakyStore : store::StateStore {
  std::unique_ptr<store::StateStore> inner = store::make_memory_store();
  bool full = false;
  struct Txn : store::StoreTxn {
    std::unique_ptr<store::StoreTxn> t;
    const bool& full;
    Txn(std::unique_ptr<store::StoreTxn> inner, const bool& f) : t(std::move(inner)), full(f) {}
    void add_vm(const store::VmRecord& v) override { t->add_vm(v); }
    void delete_vm(const std::string& n) override { t->delete_vm(n); }
    void set_vm_interface(const std::string& vm, Mac m, Ipv4 a, const std::string& p) override {
      t->set_vm_interface(vm, m, a, p);
    }
    void put_filter(const store::FilterRecord& f) override { t->put_filter(f); }
    void delete_filter(const std::string& n) override { t->delete_filter(n); }
    void set_vm_filters(const std::string& vm,
                        const std::vector<store::FilterBindingRecord>& f) override {
      t->set_vm_filters(vm, f);
    }
    void set_vm_quarantine(const std::string& vm,
                           const std::optional<store::QuarantineRecord>& q) override {
      t->set_vm_quarantine(vm, q);
    }
    void add_eip(const store::EipRecord& e) override { t->add_eip(e); }
    void set_eip_vm(Ipv4 a, const std::string& vm) override { t->set_eip_vm(a, vm); }
    void delete_eip(Ipv4 a) override { t->delete_eip(a); }
    void add_forward(const store::ForwardRecord& f) override { t->add_forward(f); }
    void delete_forward(Ipv4 a, Proto p, uint32_t first) override {
      t->delete_forward(a, p, first);
    }
    void set_generation(uint64_t g) override { t->set_generation(g); }
    void commit() override {
      if (full) throw store::StoreError("commit: database or disk is full");
      t->commit();
    }
  };
  store::StoredState load() override { return inner->load(); }
  std::unique_ptr<store::StoreTxn> begin() override {
    return std::make_unique<Txn>(inner->begin(), full);
  }
  void append_lease_event(const store::LeaseEventRecord& e) override {
    inner->append_lease_event(e);
  }
  std::vector<store::LeaseEventRecord> lease_events(size_t limit) override {
    return inner->lease_events(limit);
  }
  size_t prune_lease_events(size_t keep, const std::string& oldest) override {
    return inner->prune_lease_events(keep, oldest);
  }
};

// Everything a change may touch, as one comparable value.
struct Snapshot {
  store::StoredState stored;
  std::string inet, bridge;
  std::vector<backend::AddressInfo> addresses;
  std::vector<backend::LinkInfo> links;
  std::vector<std::pair<std::string, std::string>> hosts_on_disk;
  std::string hosts_in_memory;
  std::vector<std::string> vms;
  bool operator==(const Snapshot&) const = default;
};

enum class Step { kernel, link, hosts, store };

struct Faults : ::testing::TestWithParam<Step> {
  backend::FakeNftBackend nft;
  FlakyRtnl rtnl;
  backend::FakeSysctl sysctl;
  FlakyDhcp dhcp;
  Backends backends{nft, rtnl, sysctl, dhcp};
  backend::FakeConntrack conntrack;
  backend::FakeAnnouncer announcer;
  FlakyStore store;
  std::unique_ptr<Gateway> gw;

  void SetUp() override {
    rtnl.add_link("wan0", "veth");
    rtnl.add_link("vnet-db", "veth");
    gw = std::make_unique<Gateway>(topology(), Dependencies{store, backends, conntrack, announcer});
    gw->start();
    gw->add_vm({"web", "vmnet", *Mac::parse("52:54:00:00:00:0a"), std::nullopt, ""});
    gw->allocate_eip(std::nullopt, Ipv4::parse("203.0.113.16"));
  }
  Snapshot snapshot() {
    Snapshot s{store.load(), "", "", rtnl.addresses(), rtnl.links(), dhcp.servers, "", {}};
    if (auto t = nft.read_table("inet", "vmgw")) s.inet = nft::table_text(*t);
    if (auto t = nft.read_table("bridge", "vmgw")) s.bridge = nft::table_text(*t);
    for (const auto& d : gw->dhcp_servers()) s.hosts_in_memory += d.hosts_file();
    for (const auto& v : gw->vms()) s.vms.push_back(v.name);
    return s;
  }
  void break_step(Step step, bool broken) {
    switch (step) {
      case Step::kernel:
        nft.fail_next_with = broken ? "Error: Could not process rule: No space left on device" : "";
        break;
      case Step::link:
        rtnl.fail = broken;
        break;
      case Step::hosts:
        dhcp.full = broken;
        break;
      case Step::store:
        store.full = broken;
        break;
    }
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

TEST_P(Faults, AFailedChangeLeavesEveryPieceAsItWas) {
  const Snapshot before = snapshot();
  break_step(GetParam(), true);
  // A VM with a port (kernel, link, hosts file, store) and an elastic IP bound (kernel, address).
  EXPECT_EQ(
      status_of([&] {
        gw->add_vm({"db", "vmnet", *Mac::parse("52:54:00:00:00:0b"), std::nullopt, "vnet-db"});
      }),
      500);
  if (GetParam() == Step::kernel || GetParam() == Step::store) {  // binding: kernel and store
    break_step(GetParam(), true);  // (the fake kernel refuses one batch at a time)
    EXPECT_EQ(status_of([&] { gw->bind_eip(*Ipv4::parse("203.0.113.16"), "web"); }), 500);
  }
  const Snapshot after = snapshot();
  EXPECT_EQ(after.stored, before.stored);
  EXPECT_EQ(after.inet, before.inet);
  EXPECT_EQ(after.bridge, before.bridge);
  EXPECT_EQ(after.addresses, before.addresses);
  EXPECT_EQ(after.links, before.links);  // the refused VM's port is not left on the bridge
  EXPECT_EQ(after.hosts_on_disk, before.hosts_on_disk);
  EXPECT_EQ(after.hosts_in_memory, before.hosts_in_memory);
  EXPECT_EQ(after.vms, before.vms);
  EXPECT_FALSE(gw->host_behind());

  // The refused VM's address was not taken: the next VM gets it, and its MAC alone has it.
  break_step(GetParam(), false);
  auto next = gw->add_vm({"app", "vmnet", *Mac::parse("52:54:00:00:00:0c"), std::nullopt, ""});
  EXPECT_EQ(next.ip.str(), "10.10.0.3");
  EXPECT_EQ(gw->dhcp_servers()[0].hosts_file(),
            "52:54:00:00:00:0a,10.10.0.2,web\n52:54:00:00:00:0c,10.10.0.3,app\n");
}

std::string step_name(const ::testing::TestParamInfo<Step>& p) {
  constexpr std::array<const char*, 4> kSteps{"kernel", "link", "hosts", "store"};
  return kSteps.at(static_cast<size_t>(p.param));
}

INSTANTIATE_TEST_SUITE_P(AtEachStep, Faults,
                         ::testing::Values(Step::kernel, Step::link, Step::hosts, Step::store),
                         step_name);

// The hardening issue's case: the state directory fills up between the hosts file's write and
// the store's commit, so the step back cannot write the hosts file either. The answer says so;
// the plan in memory is the previous one at once (the refused VM's reservation is not handed on);
// the host follows once there is room.
TEST_F(Faults, WhenEvenTheStepBackFailsThePlanInMemoryIsThePreviousOneAndTheHostFollows) {
  const Snapshot before = snapshot();
  store.full = true;
  dhcp.fill_after_next_write = true;
  try {
    gw->add_vm({"db", "vmnet", *Mac::parse("52:54:00:00:00:0b"), std::nullopt, "vnet-db"});
    ADD_FAILURE() << "the VM was accepted";
  } catch (const ServiceError& e) {
    EXPECT_EQ(e.status, 500);
    EXPECT_NE(std::string(e.what()).find("the host is being put back to it (not yet: "),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(gw->host_behind());
  Snapshot now = snapshot();
  EXPECT_EQ(now.stored, before.stored);
  EXPECT_EQ(now.vms, before.vms);
  EXPECT_EQ(now.hosts_in_memory, before.hosts_in_memory);
  EXPECT_NE(now.hosts_on_disk, before.hosts_on_disk);  // the full disk holds the refused line

  // While the disk is full, changes are refused rather than stepped from a wrong host.
  EXPECT_EQ(status_of([&] {
              gw->add_vm({"app", "vmnet", *Mac::parse("52:54:00:00:00:0c"), std::nullopt, ""});
            }),
            500);
  // Room again: the daemon's loop heals; the host is the previous state, and the refused VM's
  // address goes to the next VM with its own MAC only.
  dhcp.full = false;
  store.full = false;
  gw->heal();
  EXPECT_FALSE(gw->host_behind());
  EXPECT_EQ(snapshot(), before);
  auto next = gw->add_vm({"app", "vmnet", *Mac::parse("52:54:00:00:00:0c"), std::nullopt, ""});
  EXPECT_EQ(next.ip.str(), "10.10.0.3");
  EXPECT_EQ(dhcp.servers[0].second,
            "52:54:00:00:00:0a,10.10.0.2,web\n52:54:00:00:00:0c,10.10.0.3,app\n");
}

}  // namespace
}  // namespace vmgw::daemon
