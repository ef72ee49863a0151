// The StateStore contract, run against both implementations (in memory and SQLite), plus what
// only a file can show: durability across reopen, schema versions, a process dying mid-change.

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/state_store.h"

namespace vmgw::store {
namespace {

using ::testing::HasSubstr;

Ipv4 ip(const char* text) {
  return *Ipv4::parse(text);
}
Mac mac(const char* text) {
  return *Mac::parse(text);
}

VmRecord vm(const char* name, const char* address, const char* hw, const char* port = "") {
  return {.name = name, .network = "lan", .mac = mac(hw), .ip = ip(address), .port = port};
}

ForwardRecord forward(const char* address, Proto proto, uint32_t first, uint32_t last,
                      const char* to_vm, uint32_t vm_first) {
  return {.public_address = ip(address),
          .proto = proto,
          .public_ports = {first, last},
          .vm = to_vm,
          .vm_ports = {vm_first, vm_first + (last - first)}};
}

Cidr cidr(const char* text) {
  return *Cidr::parse(text);
}

FilterBindingRecord binding(const char* filter,
                            std::vector<std::pair<std::string, std::string>> params = {}) {
  return {.filter = filter, .params = std::move(params)};
}

// Whitespace, a comment, non-ASCII text and CRLF: kept byte for byte.
const char* const kCleanTrafficXml =
    "<filter name='clean-traffic' chain='root'>\r\n"
    "  <!-- d\xc3\xa9"
    "fini par l'op\xc3\xa9"
    "rateur -->\n"
    "  <filterref filter='no-mac-spoofing'/>\n"
    "  <rule action='accept' direction='out' priority='500'><ip srcipaddr='$IP'/></rule>\n"
    "</filter>\n\n";

LeaseEventRecord lease(int n) {
  return {.time = "2024-01-01T00:00:0" + std::to_string(n) + "Z",
          .network = "lan",
          .action = "add",
          .mac = "52:54:00:00:00:0" + std::to_string(n),
          .ip = "10.10.0." + std::to_string(10 + n),
          .hostname = "host" + std::to_string(n)};
}

// Runs `f` and returns the message of the exception of type E it throws ("" if none).
template <class E, class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// A fresh directory under /tmp per test, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    std::string pattern = "/tmp/vmgw-store-test-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

struct MemoryBackend {
  static constexpr const char* kName = "Memory";
  std::unique_ptr<StateStore> open() { return make_memory_store(); }
};

struct SqliteBackend {
  static constexpr const char* kName = "Sqlite";
  TempDir dir;
  std::unique_ptr<StateStore> open() { return open_sqlite_store(dir.path() / "state.db"); }
};

template <class Backend>
class StateStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    backend_ = std::make_unique<Backend>();
    store_ = backend_->open();
  }
  void TearDown() override {
    store_.reset();
    backend_.reset();
  }

  // Adds the two VMs most tests bind things to, and commits.
  void add_two_vms() {
    auto txn = store_->begin();
    txn->add_vm(vm("web", "10.10.0.10", "52:54:00:00:00:01", "vm-web"));
    txn->add_vm(vm("db", "10.10.0.11", "52:54:00:00:00:02"));
    txn->commit();
  }

  // Gives web an elastic IP and a port forward (what refers to a VM), and commits.
  void refer_to_web() {
    auto txn = store_->begin();
    txn->add_eip({ip("203.0.113.17"), "public", "web"});
    txn->add_forward(forward("203.0.113.2", Proto::tcp, 8080, 8080, "web", 80));
    txn->commit();
  }

  std::unique_ptr<Backend> backend_;
  std::unique_ptr<StateStore> store_;
};

struct BackendNames {
  template <class T>
  static std::string GetName(int) {
    return T::kName;
  }
};

using Backends = ::testing::Types<MemoryBackend, SqliteBackend>;
TYPED_TEST_SUITE(StateStoreTest, Backends, BackendNames);

TYPED_TEST(StateStoreTest, StartsEmpty) {
  EXPECT_EQ(this->store_->load(), StoredState{});
  EXPECT_TRUE(this->store_->lease_events(10).empty());
}

// vm set: the VM keeps its name, filters, elastic IP and forwards; the MAC and the address stay
// unique; an unknown VM is an error; a rolled-back change leaves the VM as it was.
TYPED_TEST(StateStoreTest, AVmsInterfaceChangesInPlaceKeepingWhatRefersToIt) {
  this->add_two_vms();
  this->refer_to_web();
  {
    auto txn = this->store_->begin();
    txn->set_vm_interface("web", *Mac::parse("52:54:00:00:00:09"), ip("10.10.0.20"), "vnet9");
    txn->commit();
  }
  auto s = this->store_->load();
  const VmRecord* web = nullptr;
  for (const auto& v : s.vms)
    if (v.name == "web") web = &v;
  ASSERT_NE(web, nullptr);
  EXPECT_EQ(web->ip, ip("10.10.0.20"));
  EXPECT_EQ(web->mac, *Mac::parse("52:54:00:00:00:09"));
  EXPECT_EQ(web->port, "vnet9");
  ASSERT_EQ(s.eips.size(), 1u);
  EXPECT_EQ(s.eips[0].vm, "web");
  ASSERT_EQ(s.forwards.size(), 1u);
  EXPECT_EQ(s.forwards[0].vm, "web");

  auto txn = this->store_->begin();
  EXPECT_THROW(txn->set_vm_interface("web", *Mac::parse("52:54:00:00:00:02"), ip("10.10.0.20"), ""),
               StoreConflict);
  EXPECT_THROW(txn->set_vm_interface("web", *Mac::parse("52:54:00:00:00:09"), ip("10.10.0.11"), ""),
               StoreConflict);
  EXPECT_THROW(
      txn->set_vm_interface("nope", *Mac::parse("52:54:00:00:00:0f"), ip("10.10.0.30"), ""),
      StoreError);
  txn.reset();  // rolled back
  EXPECT_EQ(this->store_->load(), s);
}

TYPED_TEST(StateStoreTest, RoundTripsEveryRecord) {
  StoredState want;
  want.vms = {vm("db", "10.10.0.11", "52:54:00:00:00:02"),
              vm("web", "10.10.0.10", "52:54:00:ab:cd:ef", "vm-web")};
  want.eips = {{ip("203.0.113.17"), "public", "web"}, {ip("203.0.113.18"), "public", ""}};
  want.forwards = {forward("203.0.113.2", Proto::tcp, 8080, 8080, "web", 80),
                   forward("203.0.113.2", Proto::udp, 5000, 5010, "db", 6000)};
  want.generation = 42;

  auto txn = this->store_->begin();
  for (const auto& v : want.vms) txn->add_vm(v);
  for (const auto& e : want.eips) txn->add_eip(e);
  for (const auto& f : want.forwards) txn->add_forward(f);
  txn->set_generation(42);
  txn->commit();

  EXPECT_EQ(this->store_->load(), want);
}

TYPED_TEST(StateStoreTest, LoadSortsAddressesByValueNotText) {
  auto txn = this->store_->begin();
  txn->add_vm(vm("zeta", "10.10.0.100", "52:54:00:00:00:03"));
  txn->add_vm(vm("alpha", "10.10.0.9", "52:54:00:00:00:01"));
  txn->add_vm(vm("mid", "10.10.0.10", "52:54:00:00:00:02"));
  for (const char* a : {"10.0.0.10", "10.0.0.9", "9.0.0.1", "10.0.0.100"}) {
    txn->add_eip({ip(a), "pool", ""});
  }
  txn->add_forward(forward("203.0.113.10", Proto::tcp, 80, 80, "mid", 80));
  txn->add_forward(forward("203.0.113.9", Proto::udp, 53, 53, "mid", 53));
  txn->add_forward(forward("203.0.113.9", Proto::tcp, 443, 443, "mid", 443));
  txn->add_forward(forward("203.0.113.9", Proto::tcp, 80, 80, "mid", 80));
  txn->add_forward(forward("203.0.113.9", Proto::tcp, 1000, 1010, "mid", 1000));
  txn->commit();

  StoredState s = this->store_->load();
  std::vector<std::string> names, eips, forwards;
  for (const auto& v : s.vms) names.push_back(v.name);
  for (const auto& e : s.eips) eips.push_back(e.address.str());
  for (const auto& f : s.forwards) {
    forwards.push_back(f.public_address.str() + ":" + f.public_ports.str() + "/" +
                       std::string(to_string(f.proto)));
  }
  EXPECT_THAT(names, ::testing::ElementsAre("alpha", "mid", "zeta"));
  EXPECT_THAT(eips, ::testing::ElementsAre("9.0.0.1", "10.0.0.9", "10.0.0.10", "10.0.0.100"));
  EXPECT_THAT(forwards, ::testing::ElementsAre("203.0.113.9:80/tcp", "203.0.113.9:443/tcp",
                                               "203.0.113.9:1000-1010/tcp", "203.0.113.9:53/udp",
                                               "203.0.113.10:80/tcp"));
}

TYPED_TEST(StateStoreTest, VmConflictsNameTheOwner) {
  this->add_two_vms();
  auto txn = this->store_->begin();
  EXPECT_EQ(
      error_of<StoreConflict>([&] { txn->add_vm(vm("web", "10.10.0.99", "52:54:00:00:00:99")); }),
      "vm 'web' already exists");
  EXPECT_EQ(
      error_of<StoreConflict>([&] { txn->add_vm(vm("cache", "10.10.0.99", "52:54:00:00:00:02")); }),
      "MAC 52:54:00:00:00:02 is already used by vm 'db'");
  EXPECT_EQ(
      error_of<StoreConflict>([&] { txn->add_vm(vm("cache", "10.10.0.11", "52:54:00:00:00:99")); }),
      "IP 10.10.0.11 is already used by vm 'db'");
  // A refused statement leaves the transaction usable.
  txn->add_vm(vm("cache", "10.10.0.12", "52:54:00:00:00:03"));
  txn->commit();
  StoredState s = this->store_->load();
  ASSERT_EQ(s.vms.size(), 3U);
  EXPECT_EQ(s.vms[0], vm("cache", "10.10.0.12", "52:54:00:00:00:03"));
}

TYPED_TEST(StateStoreTest, EipAndForwardConflictsNameTheKey) {
  this->add_two_vms();
  auto txn = this->store_->begin();
  txn->add_eip({ip("203.0.113.17"), "public", "web"});
  txn->add_forward(forward("203.0.113.2", Proto::tcp, 8080, 8080, "web", 80));
  EXPECT_EQ(error_of<StoreConflict>([&] {
              txn->add_eip({ip("203.0.113.17"), "other", ""});
            }),
            "elastic IP 203.0.113.17 is already allocated");
  EXPECT_EQ(error_of<StoreConflict>([&] {
              txn->add_forward(forward("203.0.113.2", Proto::tcp, 8080, 8090, "db", 90));
            }),
            "port forward 203.0.113.2:8080-8090/tcp already exists");
  // The same port over the other protocol is another forward.
  txn->add_forward(forward("203.0.113.2", Proto::udp, 8080, 8080, "db", 80));
  txn->commit();
  StoredState s = this->store_->load();
  EXPECT_EQ(s.eips.size(), 1U);
  EXPECT_EQ(s.forwards.size(), 2U);
}

TYPED_TEST(StateStoreTest, ConflictIsAStoreError) {
  auto txn = this->store_->begin();
  txn->add_eip({ip("203.0.113.17"), "public", ""});
  EXPECT_THROW(txn->add_eip({ip("203.0.113.17"), "public", ""}), StoreError);
}

TYPED_TEST(StateStoreTest, ReferencesToMissingVmsAreRefused) {
  this->add_two_vms();
  auto txn = this->store_->begin();
  std::string eip = error_of<StoreError>([&] {
    txn->add_eip({ip("203.0.113.17"), "public", "ghost"});
  });
  EXPECT_EQ(eip, "cannot bind elastic IP 203.0.113.17 to vm 'ghost': no such vm");
  std::string fwd = error_of<StoreError>(
      [&] { txn->add_forward(forward("203.0.113.2", Proto::tcp, 22, 22, "ghost", 22)); });
  EXPECT_EQ(fwd, "cannot bind port forward 203.0.113.2:22/tcp to vm 'ghost': no such vm");
  txn->add_eip({ip("203.0.113.17"), "public", ""});
  EXPECT_THAT(error_of<StoreError>([&] { txn->set_eip_vm(ip("203.0.113.17"), "ghost"); }),
              HasSubstr("no such vm"));
  EXPECT_EQ(error_of<StoreError>([&] { txn->set_eip_vm(ip("203.0.113.99"), "web"); }),
            "elastic IP 203.0.113.99 is not allocated");
  // None of these is a key conflict.
  try {
    txn->add_eip({ip("203.0.113.18"), "public", "ghost"});
  } catch (const StoreConflict& e) {
    ADD_FAILURE() << "a missing vm is not a key conflict: " << e.what();
  } catch (const StoreError&) {
  }
}

TYPED_TEST(StateStoreTest, DeletingAReferencedVmIsRefused) {
  this->add_two_vms();
  this->refer_to_web();
  auto txn = this->store_->begin();
  EXPECT_EQ(error_of<StoreConflict>([&] { txn->delete_vm("web"); }),
            "vm 'web' is still referenced by elastic IP 203.0.113.17, port forward "
            "203.0.113.2:8080/tcp");
  txn->set_eip_vm(ip("203.0.113.17"), "");
  txn->delete_forward(ip("203.0.113.2"), Proto::tcp, 8080);
  txn->delete_vm("web");
  txn->delete_vm("never-existed");  // no-op
  txn->commit();
  StoredState s = this->store_->load();
  ASSERT_EQ(s.vms.size(), 1U);
  EXPECT_EQ(s.vms[0].name, "db");
  ASSERT_EQ(s.eips.size(), 1U);
  EXPECT_EQ(s.eips[0], (EipRecord{ip("203.0.113.17"), "public", ""}));
  EXPECT_TRUE(s.forwards.empty());
}

TYPED_TEST(StateStoreTest, RebindsAndDeletes) {
  this->add_two_vms();
  {
    auto txn = this->store_->begin();
    txn->add_eip({ip("203.0.113.17"), "public", "web"});
    txn->add_eip({ip("203.0.113.18"), "public", ""});
    txn->add_forward(forward("203.0.113.2", Proto::tcp, 22, 22, "db", 22));
    txn->commit();
  }
  auto txn = this->store_->begin();
  txn->set_eip_vm(ip("203.0.113.17"), "db");
  txn->delete_eip(ip("203.0.113.18"));
  txn->delete_eip(ip("203.0.113.99"));                     // no-op
  txn->delete_forward(ip("203.0.113.2"), Proto::udp, 22);  // other proto: no-op
  txn->commit();
  StoredState s = this->store_->load();
  ASSERT_EQ(s.eips.size(), 1U);
  EXPECT_EQ(s.eips[0], (EipRecord{ip("203.0.113.17"), "public", "db"}));
  EXPECT_EQ(s.forwards.size(), 1U);
}

TYPED_TEST(StateStoreTest, DestroyingWithoutCommitRollsBack) {
  this->add_two_vms();
  StoredState before = this->store_->load();
  {
    auto txn = this->store_->begin();
    txn->add_eip({ip("203.0.113.17"), "public", "web"});
    txn->set_eip_vm(ip("203.0.113.17"), "db");
    txn->add_vm(vm("cache", "10.10.0.12", "52:54:00:00:00:03"));
    txn->set_generation(7);
  }
  EXPECT_EQ(this->store_->load(), before);
  // The store is usable again, and the rolled-back keys are free.
  auto txn = this->store_->begin();
  txn->add_vm(vm("cache", "10.10.0.12", "52:54:00:00:00:03"));
  txn->commit();
  EXPECT_EQ(this->store_->load().vms.size(), 3U);
}

TYPED_TEST(StateStoreTest, LoadInsideATransactionSeesCommittedStateOnly) {
  this->add_two_vms();
  auto txn = this->store_->begin();
  txn->add_eip({ip("203.0.113.17"), "public", "web"});
  EXPECT_TRUE(this->store_->load().eips.empty());
  txn->commit();
  EXPECT_EQ(this->store_->load().eips.size(), 1U);
}

TYPED_TEST(StateStoreTest, OneTransactionAtATime) {
  auto first = this->store_->begin();
  EXPECT_THAT(error_of<StoreError>([&] { this->store_->begin(); }), HasSubstr("already open"));
  first->add_eip({ip("203.0.113.17"), "public", ""});
  first->commit();
  // A finished transaction no longer counts, and refuses further use.
  auto second = this->store_->begin();
  EXPECT_THAT(error_of<StoreError>([&] { first->commit(); }), HasSubstr("finished"));
  EXPECT_THAT(error_of<StoreError>([&] { first->delete_eip(ip("203.0.113.17")); }),
              HasSubstr("finished"));
  second.reset();
  first.reset();
  EXPECT_EQ(this->store_->load().eips.size(), 1U);
  EXPECT_NO_THROW(this->store_->begin());
}

TYPED_TEST(StateStoreTest, GenerationIsKeptUntilSetAgain) {
  EXPECT_EQ(this->store_->load().generation, 0U);
  {
    auto txn = this->store_->begin();
    txn->set_generation(5);
    txn->commit();
  }
  EXPECT_EQ(this->store_->load().generation, 5U);
  {
    auto txn = this->store_->begin();
    txn->add_eip({ip("203.0.113.17"), "public", ""});
    txn->commit();
  }
  EXPECT_EQ(this->store_->load().generation, 5U);
  {
    auto txn = this->store_->begin();
    txn->set_generation(std::numeric_limits<uint64_t>::max());
    txn->commit();
  }
  EXPECT_EQ(this->store_->load().generation, std::numeric_limits<uint64_t>::max());
}

TYPED_TEST(StateStoreTest, LeaseEventsNewestLimitOldestFirst) {
  for (int n = 1; n <= 5; ++n) this->store_->append_lease_event(lease(n));
  EXPECT_EQ(this->store_->lease_events(3), (std::vector{lease(3), lease(4), lease(5)}));
  EXPECT_EQ(this->store_->lease_events(100).size(), 5U);
  EXPECT_EQ(this->store_->lease_events(100).front(), lease(1));
  EXPECT_TRUE(this->store_->lease_events(0).empty());
  EXPECT_EQ(this->store_->lease_events(std::numeric_limits<size_t>::max()).size(), 5U);
  // Outside generations.
  EXPECT_EQ(this->store_->load(), StoredState{});
}

// Retention: the newest `keep`, none older than the given time.
TYPED_TEST(StateStoreTest, LeaseEventsArePrunedByCountAndAge) {
  for (int n = 1; n <= 8; ++n) this->store_->append_lease_event(lease(n));
  EXPECT_EQ(this->store_->prune_lease_events(5, "2000-01-01T00:00:00Z"), 3U);
  EXPECT_EQ(this->store_->lease_events(100),
            (std::vector{lease(4), lease(5), lease(6), lease(7), lease(8)}));
  EXPECT_EQ(this->store_->prune_lease_events(100, "2024-01-01T00:00:07Z"), 3U);
  EXPECT_EQ(this->store_->lease_events(100), (std::vector{lease(7), lease(8)}));
  EXPECT_EQ(this->store_->prune_lease_events(100, "2000-01-01T00:00:00Z"), 0U);
  this->store_->append_lease_event(lease(9));  // ids go on after a prune
  EXPECT_EQ(this->store_->lease_events(1), (std::vector{lease(9)}));
}

TYPED_TEST(StateStoreTest, LeaseEventsAreRefusedWhileATransactionIsOpen) {
  auto txn = this->store_->begin();
  EXPECT_THAT(error_of<StoreError>([&] { this->store_->append_lease_event(lease(1)); }),
              HasSubstr("transaction is open"));
  txn.reset();
  this->store_->append_lease_event(lease(1));
  EXPECT_EQ(this->store_->lease_events(10).size(), 1U);
}

// --- Filters, filter bindings, quarantine. ---

TYPED_TEST(StateStoreTest, FiltersRoundTripReplaceAndDelete) {
  {
    auto txn = this->store_->begin();
    txn->put_filter({"no-ip-spoofing", "<filter name='no-ip-spoofing'/>"});
    txn->put_filter({"clean-traffic", kCleanTrafficXml});
    txn->put_filter({"allow-ssh", "<filter name='allow-ssh'/>"});
    txn->commit();
  }
  StoredState s = this->store_->load();
  EXPECT_EQ(s.filters,
            (std::vector<FilterRecord>{{"allow-ssh", "<filter name='allow-ssh'/>"},
                                       {"clean-traffic", kCleanTrafficXml},
                                       {"no-ip-spoofing", "<filter name='no-ip-spoofing'/>"}}));
  {
    auto txn = this->store_->begin();
    txn->put_filter({"clean-traffic", "<filter name='clean-traffic'>v2</filter>"});
    txn->delete_filter("allow-ssh");
    txn->delete_filter("never-existed");  // no-op
    txn->commit();
  }
  s = this->store_->load();
  EXPECT_EQ(s.filters, (std::vector<FilterRecord>{
                           {"clean-traffic", "<filter name='clean-traffic'>v2</filter>"},
                           {"no-ip-spoofing", "<filter name='no-ip-spoofing'/>"}}));
  EXPECT_TRUE(s.vms.empty());
}

TYPED_TEST(StateStoreTest, VmFiltersKeepTheirOrderAndRepeatedParams) {
  VmRecord web = vm("web", "10.10.0.10", "52:54:00:00:00:01", "vm-web");
  web.filters = {binding("clean-traffic", {{"IP", "10.10.0.10"},
                                           {"CTRL_IP_LEARNING", "none"},
                                           {"IP", "10.10.0.20"},
                                           {"IP", "10.10.0.10"}}),
                 binding("allow-ssh"), binding("clean-traffic", {{"IP", "10.10.0.30"}}),
                 binding("allow-dns", {{"DNS", ""}})};
  VmRecord db = vm("db", "10.10.0.11", "52:54:00:00:00:02");
  db.filters = {binding("z-last-by-name"), binding("a-first-by-name")};
  {
    auto txn = this->store_->begin();
    txn->add_vm(web);
    txn->add_vm(db);
    txn->commit();
  }
  StoredState s = this->store_->load();
  EXPECT_EQ(s.vms, (std::vector<VmRecord>{db, web}));
  EXPECT_TRUE(s.filters.empty());  // bindings need not name a defined filter

  // Replaced as a whole; an empty list removes them all.
  web.filters = {binding("allow-ssh", {{"PORT", "22"}, {"PORT", "2222"}}),
                 binding("clean-traffic")};
  {
    auto txn = this->store_->begin();
    txn->set_vm_filters("web", web.filters);
    txn->set_vm_filters("db", {});
    txn->commit();
  }
  db.filters.clear();
  EXPECT_EQ(this->store_->load().vms, (std::vector<VmRecord>{db, web}));
}

TYPED_TEST(StateStoreTest, QuarantineIsSetAndLifted) {
  this->add_two_vms();
  QuarantineRecord q{.allow_from = {cidr("192.168.100.0/24"), cidr("10.0.0.1/32"),
                                    cidr("0.0.0.0/0"), cidr("10.0.0.0/8")}};
  {
    auto txn = this->store_->begin();
    txn->set_vm_quarantine("web", q);
    txn->set_vm_quarantine("db", QuarantineRecord{});  // everything cut, no exception
    txn->commit();
  }
  StoredState s = this->store_->load();
  ASSERT_EQ(s.vms.size(), 2U);
  EXPECT_EQ(s.vms[1].quarantine, q);
  ASSERT_TRUE(s.vms[0].quarantine.has_value());
  EXPECT_TRUE(s.vms[0].quarantine->allow_from.empty());

  QuarantineRecord narrower{.allow_from = {cidr("192.168.100.7/32")}};
  {
    auto txn = this->store_->begin();
    txn->set_vm_quarantine("web", narrower);
    txn->set_vm_quarantine("db", std::nullopt);
    txn->commit();
  }
  s = this->store_->load();
  EXPECT_EQ(s.vms[1].quarantine, narrower);
  EXPECT_EQ(s.vms[0].quarantine, std::nullopt);
  {
    auto txn = this->store_->begin();
    txn->set_vm_quarantine("web", std::nullopt);
    txn->set_vm_quarantine("db", std::nullopt);  // already lifted: no-op
    txn->commit();
  }
  s = this->store_->load();
  EXPECT_EQ(s.vms[1].quarantine, std::nullopt);
  EXPECT_EQ(s.vms[1], vm("web", "10.10.0.10", "52:54:00:00:00:01", "vm-web"));
}

TYPED_TEST(StateStoreTest, AddVmKeepsItsQuarantine) {
  VmRecord web = vm("web", "10.10.0.10", "52:54:00:00:00:01");
  web.quarantine = QuarantineRecord{.allow_from = {cidr("192.168.100.0/24")}};
  web.filters = {binding("clean-traffic", {{"IP", "10.10.0.10"}})};
  auto txn = this->store_->begin();
  txn->add_vm(web);
  txn->commit();
  EXPECT_EQ(this->store_->load().vms, std::vector{web});
}

TYPED_TEST(StateStoreTest, FiltersAndQuarantineOfAMissingVmAreRefused) {
  this->add_two_vms();
  auto txn = this->store_->begin();
  try {
    txn->set_vm_filters("ghost", {binding("clean-traffic")});
    ADD_FAILURE() << "set_vm_filters on a missing vm did not throw";
  } catch (const StoreConflict& e) {
    ADD_FAILURE() << "a missing vm is not a key conflict: " << e.what();
  } catch (const StoreError& e) {
    EXPECT_STREQ(e.what(), "cannot set filters of vm 'ghost': no such vm");
  }
  EXPECT_EQ(error_of<StoreError>([&] { txn->set_vm_quarantine("ghost", QuarantineRecord{}); }),
            "cannot set quarantine of vm 'ghost': no such vm");
  EXPECT_EQ(error_of<StoreError>([&] { txn->set_vm_quarantine("ghost", std::nullopt); }),
            "cannot set quarantine of vm 'ghost': no such vm");
  EXPECT_EQ(error_of<StoreError>([&] { txn->set_vm_filters("ghost", {}); }),
            "cannot set filters of vm 'ghost': no such vm");
  // A source that could not be read back (host bits set, prefix over 32) is refused, and the
  // quarantine in force stays.
  txn->set_vm_quarantine("web", QuarantineRecord{.allow_from = {cidr("10.0.0.0/8")}});
  EXPECT_EQ(error_of<StoreError>([&] {
              txn->set_vm_quarantine(
                  "web",
                  QuarantineRecord{.allow_from = {cidr("10.1.0.0/16"),
                                                  Cidr{.network = ip("10.0.0.1"), .prefix = 8}}});
            }),
            "cannot set quarantine of vm 'web': invalid source network 10.0.0.1/8");
  EXPECT_THAT(error_of<StoreError>([&] {
                VmRecord cache = vm("cache", "10.10.0.12", "52:54:00:00:00:03");
                cache.quarantine =
                    QuarantineRecord{.allow_from = {Cidr{.network = ip("10.0.0.0"), .prefix = 33}}};
                txn->add_vm(cache);
              }),
              HasSubstr("invalid source network 10.0.0.0/33"));
  // The transaction is still usable, and the refused vm left nothing behind.
  txn->set_vm_filters("db", {binding("allow-ssh")});
  txn->commit();
  StoredState s = this->store_->load();
  ASSERT_EQ(s.vms.size(), 2U);
  EXPECT_EQ(s.vms[0].filters, std::vector{binding("allow-ssh")});
  EXPECT_EQ(s.vms[1].quarantine, QuarantineRecord{.allow_from = {cidr("10.0.0.0/8")}});
}

TYPED_TEST(StateStoreTest, DeletingAVmDeletesItsFiltersAndQuarantine) {
  VmRecord web = vm("web", "10.10.0.10", "52:54:00:00:00:01");
  web.filters = {binding("clean-traffic", {{"IP", "10.10.0.10"}}), binding("allow-ssh")};
  web.quarantine = QuarantineRecord{.allow_from = {cidr("192.168.100.0/24")}};
  {
    auto txn = this->store_->begin();
    txn->put_filter({"clean-traffic", kCleanTrafficXml});
    txn->add_vm(web);
    txn->add_vm(vm("db", "10.10.0.11", "52:54:00:00:00:02"));
    txn->set_vm_filters("db", {binding("clean-traffic", {{"IP", "10.10.0.11"}})});
    txn->commit();
  }
  {
    auto txn = this->store_->begin();
    txn->delete_vm("web");
    txn->commit();
  }
  StoredState s = this->store_->load();
  ASSERT_EQ(s.vms.size(), 1U);
  EXPECT_EQ(s.vms[0].filters, std::vector{binding("clean-traffic", {{"IP", "10.10.0.11"}})});
  EXPECT_EQ(s.filters.size(), 1U);  // the filter itself is the operator's, not the vm's
  // A vm created again under the name starts with none of them.
  VmRecord again = vm("web", "10.10.0.10", "52:54:00:00:00:01");
  {
    auto txn = this->store_->begin();
    txn->add_vm(again);
    txn->commit();
  }
  EXPECT_EQ(this->store_->load().vms[1], again);
}

TYPED_TEST(StateStoreTest, FilterChangesRollBackWithTheTransaction) {
  VmRecord web = vm("web", "10.10.0.10", "52:54:00:00:00:01");
  web.filters = {binding("clean-traffic", {{"IP", "10.10.0.10"}})};
  web.quarantine = QuarantineRecord{.allow_from = {cidr("192.168.100.0/24")}};
  {
    auto txn = this->store_->begin();
    txn->put_filter({"clean-traffic", kCleanTrafficXml});
    txn->add_vm(web);
    txn->commit();
  }
  StoredState before = this->store_->load();
  {
    auto txn = this->store_->begin();
    txn->put_filter({"clean-traffic", "<filter name='clean-traffic'/>"});
    txn->put_filter({"allow-ssh", "<filter name='allow-ssh'/>"});
    txn->set_vm_filters("web", {binding("allow-ssh")});
    txn->set_vm_quarantine("web", std::nullopt);
    VmRecord db = vm("db", "10.10.0.11", "52:54:00:00:00:02");
    db.filters = {binding("allow-ssh")};
    txn->add_vm(db);
  }
  EXPECT_EQ(this->store_->load(), before);
  {
    auto txn = this->store_->begin();
    txn->delete_filter("clean-traffic");
    txn->delete_vm("web");
  }
  EXPECT_EQ(this->store_->load(), before);
}

// --- SQLite only: what a file adds. ---

class SqliteStoreTest : public ::testing::Test {
 protected:
  std::string path() const { return dir_.path() / "state.db"; }

  // Runs constant SQL on the file behind the store's back.
  void raw_exec(const char* sql) const {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    char* error = nullptr;
    int rc = sqlite3_exec(db, sql, nullptr, nullptr, &error);
    std::string message = error ? error : "";
    sqlite3_free(error);
    sqlite3_close(db);
    ASSERT_EQ(rc, SQLITE_OK) << message;
  }

  // The first column of the first row of `sql`.
  std::string raw_query(const char* sql) const {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(path().c_str(), &db), SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    std::string value;
    if (sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK &&
        sqlite3_step(st) == SQLITE_ROW) {
      const unsigned char* text = sqlite3_column_text(st, 0);
      if (text) value = reinterpret_cast<const char*>(text);
    }
    sqlite3_finalize(st);
    sqlite3_close(db);
    return value;
  }

  TempDir dir_;
};

TEST_F(SqliteStoreTest, CreatesTheFileButNotItsDirectory) {
  EXPECT_FALSE(std::filesystem::exists(path()));
  open_sqlite_store(path());
  EXPECT_TRUE(std::filesystem::exists(path()));
  EXPECT_EQ(raw_query("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(raw_query("SELECT schema_version FROM meta"), "3");

  std::string missing = dir_.path() / "no-such-dir" / "state.db";
  EXPECT_THAT(error_of<StoreError>([&] { open_sqlite_store(missing); }),
              HasSubstr("cannot open state database " + missing));
  EXPECT_FALSE(std::filesystem::exists(dir_.path() / "no-such-dir"));
}

TEST_F(SqliteStoreTest, CommittedStateSurvivesReopen) {
  StoredState want;
  want.vms = {vm("db", "10.10.0.11", "52:54:00:00:00:02", "vnet3"),
              vm("web", "10.10.0.10", "52:54:00:00:00:01", "vm-web")};
  want.vms[0].owner = "libvirt:4dea22b3-1d52-d8f3-2516-782e98ab3fa0";  // a followed domain's VM
  want.eips = {{ip("203.0.113.17"), "public", "web"}};
  want.forwards = {forward("203.0.113.2", Proto::tcp, 8080, 8089, "web", 80)};
  want.generation = 3;
  {
    auto store = open_sqlite_store(path());
    auto txn = store->begin();
    txn->add_vm(want.vms[0]);
    txn->add_vm(want.vms[1]);
    txn->add_eip(want.eips[0]);
    txn->add_forward(want.forwards[0]);
    txn->set_generation(3);
    txn->commit();
    store->append_lease_event(lease(1));
  }
  auto store = open_sqlite_store(path());
  EXPECT_EQ(store->load(), want);
  EXPECT_EQ(store->lease_events(10), std::vector{lease(1)});
  // Values are stored as their text form.
  EXPECT_EQ(raw_query("SELECT address FROM eips"), "203.0.113.17");
  EXPECT_EQ(raw_query("SELECT mac FROM vms WHERE name = 'web'"), "52:54:00:00:00:01");
}

TEST_F(SqliteStoreTest, GenerationSurvivesReopen) {
  {
    auto store = open_sqlite_store(path());
    auto txn = store->begin();
    txn->set_generation(12);
    txn->commit();
  }
  EXPECT_EQ(open_sqlite_store(path())->load().generation, 12U);
}

TEST_F(SqliteStoreTest, UncommittedChangeIsGoneAfterReopen) {
  {
    auto store = open_sqlite_store(path());
    auto txn = store->begin();
    txn->add_vm(vm("web", "10.10.0.10", "52:54:00:00:00:01"));
    txn->set_generation(9);
    txn.reset();
  }
  EXPECT_EQ(open_sqlite_store(path())->load(), StoredState{});
}

// A process that dies in the middle of a change (no destructor runs) leaves nothing behind; one
// that dies right after commit() leaves all of it.
TEST_F(SqliteStoreTest, ProcessDeathMidTransactionWritesNothing) {
  open_sqlite_store(path());
  auto die_in_child = [&](bool commit) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      auto store = open_sqlite_store(path());
      auto txn = store->begin();
      txn->add_vm(vm("web", "10.10.0.10", "52:54:00:00:00:01"));
      txn->set_generation(commit ? 2 : 1);
      if (commit) txn->commit();
      _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    ASSERT_TRUE(WIFEXITED(status));
  };
  die_in_child(false);
  EXPECT_EQ(open_sqlite_store(path())->load(), StoredState{});
  die_in_child(true);
  StoredState s = open_sqlite_store(path())->load();
  EXPECT_EQ(s.generation, 2U);
  EXPECT_EQ(s.vms.size(), 1U);
}

// Writers in two processes are serialized: begin() waits for the other's commit, and then sees it.
TEST_F(SqliteStoreTest, BeginWaitsForAnotherProcessesTransaction) {
  open_sqlite_store(path());  // closed again: SQLite connections must not cross fork()
  int ready[2];
  ASSERT_EQ(pipe(ready), 0);
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    close(ready[0]);
    auto child = open_sqlite_store(path());
    auto txn = child->begin();
    txn->add_eip({ip("203.0.113.17"), "public", ""});
    char byte = 1;
    if (write(ready[1], &byte, 1) != 1) _exit(1);
    usleep(300 * 1000);
    txn->commit();
    _exit(0);
  }
  close(ready[1]);
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  close(ready[0]);
  auto store = open_sqlite_store(path());
  auto txn = store->begin();  // blocks until the child committed
  StoredState s = store->load();
  ASSERT_EQ(s.eips.size(), 1U);
  EXPECT_EQ(error_of<StoreConflict>([&] {
              txn->add_eip({ip("203.0.113.17"), "public", ""});
            }),
            "elastic IP 203.0.113.17 is already allocated");
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(SqliteStoreTest, NewerSchemaVersionIsRefused) {
  open_sqlite_store(path());
  raw_exec("UPDATE meta SET schema_version = 99");
  EXPECT_EQ(error_of<StoreError>([&] { open_sqlite_store(path()); }),
            "state database " + path() + " has schema version 99; this vmgw knows up to 3");
  // Refusing did not touch the file.
  EXPECT_EQ(raw_query("SELECT schema_version FROM meta"), "99");
}

TEST_F(SqliteStoreTest, FiltersSurviveReopen) {
  VmRecord web = vm("web", "10.10.0.10", "52:54:00:00:00:01");
  web.filters = {binding("clean-traffic", {{"IP", "10.10.0.10"}, {"IP", "10.10.0.20"}}),
                 binding("allow-ssh")};
  web.quarantine = QuarantineRecord{.allow_from = {cidr("192.168.100.0/24"), cidr("10.0.0.1/32")}};
  {
    auto store = open_sqlite_store(path());
    auto txn = store->begin();
    txn->put_filter({"clean-traffic", kCleanTrafficXml});
    txn->add_vm(web);
    txn->commit();
  }
  StoredState s = open_sqlite_store(path())->load();
  EXPECT_EQ(s.vms, std::vector{web});
  EXPECT_EQ(s.filters, (std::vector<FilterRecord>{{"clean-traffic", kCleanTrafficXml}}));
  EXPECT_EQ(raw_query("SELECT cidr FROM vm_quarantine_allow WHERE position = 1"), "10.0.0.1/32");
  // Deleting the vm leaves no orphan row behind (the cascades run).
  {
    auto store = open_sqlite_store(path());
    auto txn = store->begin();
    txn->delete_vm("web");
    txn->commit();
  }
  EXPECT_EQ(raw_query("SELECT (SELECT count(*) FROM vm_filters) + (SELECT count(*) FROM "
                      "vm_filter_params) + (SELECT count(*) FROM vm_quarantine) + (SELECT "
                      "count(*) FROM vm_quarantine_allow)"),
            "0");
}

// A file written by the version 1 schema (before filters) opens, keeps everything, and takes
// filters from then on.
TEST_F(SqliteStoreTest, Version1DatabaseIsUpgradedInPlace) {
  raw_exec(R"sql(
PRAGMA journal_mode = WAL;
CREATE TABLE meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  generation INTEGER NOT NULL
);
CREATE TABLE vms (
  name TEXT NOT NULL PRIMARY KEY,
  network TEXT NOT NULL,
  mac TEXT NOT NULL UNIQUE,
  ip TEXT NOT NULL UNIQUE,
  port TEXT NOT NULL
);
CREATE TABLE eips (
  address TEXT NOT NULL PRIMARY KEY,
  pool TEXT NOT NULL,
  vm TEXT NULL REFERENCES vms(name)
);
CREATE INDEX eips_vm ON eips(vm);
CREATE TABLE forwards (
  address TEXT NOT NULL,
  proto TEXT NOT NULL CHECK (proto IN ('tcp', 'udp')),
  first_port INTEGER NOT NULL,
  last_port INTEGER NOT NULL,
  vm TEXT NOT NULL REFERENCES vms(name),
  vm_first_port INTEGER NOT NULL,
  vm_last_port INTEGER NOT NULL,
  PRIMARY KEY (address, proto, first_port)
);
CREATE INDEX forwards_vm ON forwards(vm);
CREATE TABLE lease_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  network TEXT NOT NULL,
  action TEXT NOT NULL,
  mac TEXT NOT NULL,
  ip TEXT NOT NULL,
  hostname TEXT NOT NULL
);
INSERT INTO meta (id, schema_version, generation) VALUES (1, 1, 17);
INSERT INTO vms VALUES ('web', 'lan', '52:54:00:00:00:01', '10.10.0.10', 'vm-web');
INSERT INTO vms VALUES ('db', 'lan', '52:54:00:00:00:02', '10.10.0.11', '');
INSERT INTO eips VALUES ('203.0.113.17', 'public', 'web');
INSERT INTO forwards VALUES ('203.0.113.2', 'tcp', 8080, 8080, 'db', 80, 80);
INSERT INTO lease_events (time, network, action, mac, ip, hostname)
  VALUES ('2024-01-01T00:00:01Z', 'lan', 'add', '52:54:00:00:00:01', '10.10.0.11', 'host1');
)sql");
  StoredState want;
  want.vms = {vm("db", "10.10.0.11", "52:54:00:00:00:02"),
              vm("web", "10.10.0.10", "52:54:00:00:00:01", "vm-web")};
  want.eips = {{ip("203.0.113.17"), "public", "web"}};
  want.forwards = {forward("203.0.113.2", Proto::tcp, 8080, 8080, "db", 80)};
  want.generation = 17;
  {
    auto store = open_sqlite_store(path());
    EXPECT_EQ(store->load(), want);
    EXPECT_EQ(store->lease_events(10), std::vector{lease(1)});
    auto txn = store->begin();
    txn->put_filter({"clean-traffic", kCleanTrafficXml});
    txn->set_vm_filters("web", {binding("clean-traffic", {{"IP", "10.10.0.10"}})});
    txn->set_vm_quarantine("db", QuarantineRecord{.allow_from = {cidr("192.168.100.0/24")}});
    txn->commit();
  }
  EXPECT_EQ(raw_query("SELECT schema_version FROM meta"), "3");
  want.filters = {{"clean-traffic", kCleanTrafficXml}};
  want.vms[1].filters = {binding("clean-traffic", {{"IP", "10.10.0.10"}})};
  want.vms[0].quarantine = QuarantineRecord{.allow_from = {cidr("192.168.100.0/24")}};
  EXPECT_EQ(open_sqlite_store(path())->load(), want);
}

TEST_F(SqliteStoreTest, NotADatabaseIsAStoreError) {
  std::ofstream(path()) << "this is not an SQLite file, but it is long enough to have a header\n"
                        << std::string(200, 'x');
  EXPECT_THAT(error_of<StoreError>([&] { open_sqlite_store(path()); }), HasSubstr(path()));
}

TEST_F(SqliteStoreTest, DamagedRowIsReported) {
  auto store = open_sqlite_store(path());
  raw_exec(
      "INSERT INTO vms (name, network, mac, ip, port) VALUES ('web', 'lan', 'zz', '10.0.0.1', '')");
  EXPECT_THAT(error_of<StoreError>([&] { store->load(); }),
              HasSubstr("damaged: vms: invalid mac 'zz'"));
}

TEST_F(SqliteStoreTest, DamagedQuarantineRowIsReported) {
  auto store = open_sqlite_store(path());
  {
    auto txn = store->begin();
    txn->add_vm(vm("web", "10.10.0.10", "52:54:00:00:00:01"));
    txn->commit();
  }
  raw_exec(
      "INSERT INTO vm_quarantine (vm) VALUES ('web');"
      "INSERT INTO vm_quarantine_allow (vm, position, cidr) VALUES ('web', 0, '10.0.0.1/8')");
  EXPECT_THAT(error_of<StoreError>([&] { store->load(); }),
              HasSubstr("damaged: vm_quarantine_allow: invalid network '10.0.0.1/8'"));
}

}  // namespace
}  // namespace vmgw::store
