// libnftables against the real kernel (in the test process's private network namespace): the
// JSON vmgw sends is accepted, reads back to an empty diff, deltas stay deltas, refusals leave
// the previous table, and the text `vmgw plan` prints is the same ruleset as the JSON.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <memory>

#include "backend/nft_backend.h"
#include "compile/compile.h"
#include "compile/plan_text.h"
#include "model/load.h"
#include "nft/text.h"
#include "plan/nft_diff.h"
#include "support.h"

namespace vmgw {
namespace {

const char* kGateway = R"(
uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
  - {name: isp2, device: wan1, address: 198.51.100.2/24, gateway: 198.51.100.1, weight: 3, tier: 2}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/24, gateway: 10.10.0.1, dhcp: true, masquerade: [isp1, isp2]}
  - {name: lan, bridge: lan0, subnet: 192.168.50.0/24, gateway: 192.168.50.1, masquerade: [isp1]}
vms:
  - {name: web, network: vmnet, mac: "52:54:00:00:00:0a", ip: 10.10.0.10, port: vnet-web}
  - {name: db, network: vmnet, mac: "52:54:00:00:00:0b", ip: 10.10.0.11}
port_forwards:
  - {public: "203.0.113.2:8080", to: "web:80"}
  - {public: "203.0.113.2:5000-5002", proto: udp, to: "db:6000-6002"}
elastic_ips:
  pools:
    - {name: public, uplink: isp1, cidr: 203.0.113.16/28}
  bindings:
    - {address: 203.0.113.17, vm: db}
host:
  allow:
    - {proto: tcp, port: 22, interface: lan0, from: 192.168.50.0/24}
    - {proto: udp, port: "60000-60010"}
dscp:
  - {vm: web, proto: tcp, port: 22, dscp: af21}
  - {network: lan, proto: udp, port: "5060-5061", dscp: ef}
  - {from: 10.10.0.0/25, proto: tcp, dscp: cs1}
)";

Plan plan_of(const std::string& yaml) {
  auto r = load_config(yaml, "test.yaml");
  if (auto* d = std::get_if<Diagnostics>(&r)) throw std::runtime_error(d->front().str());
  return compile(std::get<Validated<Config>>(r));
}

using kernel_test::run;

// The kernel's JSON listing with what legitimately differs removed: handles, counter values
// and comments (text carries the human comment, JSON the comment with the rule id).
nft::Json normalized_listing() {
  auto j = nft::Json::parse(run("nft -j list table inet vmgw"));
  std::function<void(nft::Json&)> strip = [&](nft::Json& v) {
    if (v.is_object()) {
      v.erase("handle");
      v.erase("comment");
      if (v.contains("counter") && v["counter"].is_object()) v["counter"] = nullptr;
      for (auto& [k, x] : v.items()) strip(x);
    } else if (v.is_array()) {
      for (auto& x : v) strip(x);
    }
  };
  strip(j);
  return j;
}

class NftKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    nft_ = backend::make_libnftables_backend();
    if (nft_->read_table("inet", "vmgw"))
      nft_->apply({{"nftables", {nft::delete_table_cmd(nft::Table{})}}});
  }
  NftChange converge(const Plan& p) {
    auto change = diff_table(nft_->read_table("inet", "vmgw"), p.table);
    if (!change.empty()) nft_->apply(change.batch());
    return change;
  }
  std::unique_ptr<backend::NftBackend> nft_;
};

TEST_F(NftKernel, KernelAcceptsThePlanAndReadsItBackIdentically) {
  auto plan = plan_of(kGateway);
  auto first = converge(plan);
  EXPECT_TRUE(first.created);
  // Every element and rule shape round-trips through the kernel: nothing left to change.
  auto again = diff_table(nft_->read_table("inet", "vmgw"), plan.table);
  EXPECT_TRUE(again.empty()) << again.batch().dump(2);
}

TEST_F(NftKernel, DeltaTouchesOnlyWhatChanged) {
  converge(plan_of(kGateway));
  auto handles_before = run("nft -a list chain inet vmgw filter_forward");
  std::string more = kGateway;
  more.insert(more.find("port_forwards:"),
              "  - {name: app, network: vmnet, mac: \"52:54:00:00:00:0c\", ip: 10.10.0.12}\n");
  auto change = converge(plan_of(more));
  EXPECT_EQ(change.summary(), "+2 elements");  // its flow counters: elements, not chains
  EXPECT_EQ(run("nft -a list chain inet vmgw filter_forward"), handles_before);
  EXPECT_TRUE(converge(plan_of(more)).empty());
  auto back = converge(plan_of(kGateway));
  EXPECT_EQ(back.summary(), "-2 elements");
}

TEST_F(NftKernel, RefusedBatchLeavesThePreviousTable) {
  auto plan = plan_of(kGateway);
  converge(plan);
  auto before = nft_->list_text("inet", "vmgw");
  nft::Table t = plan.table;
  nft::Json bad = {{"nftables",
                    {nft::add_elements_cmd(t, *t.find_set("uplink_by_device"),
                                           {{"10.10.0.99", nft::jump("no-such-chain")}}),
                     nft::delete_table_cmd(t)}}};
  EXPECT_THROW(nft_->apply(bad), backend::NftError);
  EXPECT_EQ(nft_->list_text("inet", "vmgw"), before);
}

TEST_F(NftKernel, RefusalNamesTheFirstCommandTheKernelRefused) {
  auto plan = plan_of(kGateway);
  converge(plan);
  auto before = nft_->list_text("inet", "vmgw");
  nft::Table t = plan.table;
  const nft::Set& l3 = *t.find_set("uplink_by_device");
  nft::Json bad = {{"nftables",
                    {nft::add_elements_cmd(t, l3, {{"10.10.0.98", nft::jump("quarantine")}}),
                     nft::add_elements_cmd(t, l3, {{"10.10.0.99", nft::jump("no-such-chain")}}),
                     nft::delete_table_cmd(t)}}};
  try {
    nft_->apply(bad);
    FAIL() << "the kernel accepted a jump to a missing chain";
  } catch (const backend::NftError& e) {
    EXPECT_EQ(e.culprit,
              "add element 10.10.0.99 to set inet vmgw uplink_by_device (command 2 of 3)");
    EXPECT_EQ(e.reason.rfind("Error: ", 0), 0u) << e.reason;
    EXPECT_EQ(std::string(e.what()), e.culprit + ": " + e.reason);
  }
  // Locating it ran dry runs only.
  EXPECT_EQ(nft_->list_text("inet", "vmgw"), before);
}

TEST_F(NftKernel, PlanTextIsTheSameRulesetAsTheJson) {
  if (run("command -v nft").empty()) GTEST_SKIP() << "nft binary not installed";
  auto plan = plan_of(kGateway);
  converge(plan);
  auto from_json = normalized_listing();
  nft_->apply({{"nftables", {nft::delete_table_cmd(plan.table)}}});
  const std::string file = "/tmp/vmgw-kernel-test-" + std::to_string(::getpid()) + ".nft";
  {
    std::ofstream out(file);
    out << nft::table_text(plan.table);
  }
  std::string err = run("nft -f " + file + " 2>&1");
  std::remove(file.c_str());
  ASSERT_EQ(err, "");
  EXPECT_EQ(normalized_listing(), from_json);
}

TEST_F(NftKernel, ForeignTablesAreNeverTouched) {
  run("nft add table ip foreign; nft add chain ip foreign c '{ type filter hook input priority 10; "
      "}'; "
      "nft add rule ip foreign c tcp dport 9999 counter accept");
  auto before = run("nft -a list table ip foreign");
  converge(plan_of(kGateway));
  converge(plan_of("{}"));
  EXPECT_EQ(run("nft -a list table ip foreign"), before);
  run("nft delete table ip foreign");
}

}  // namespace
}  // namespace vmgw
