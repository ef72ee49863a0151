#include "plan/nft_diff.h"

#include <gtest/gtest.h>

#include "backend/fake_nft_backend.h"
#include "compile/compile.h"
#include "test_support.h"

namespace vmgw {
namespace {

using testing::kSmallGateway;
using testing::valid_config;

// Applies `want` to the fake kernel the way apply() does; returns the change.
NftChange converge(backend::FakeNftBackend& kernel, const nft::Table& want) {
  auto change = diff_table(kernel.read_table(want.family, want.name), want);
  if (!change.empty()) kernel.apply(change.batch());
  return change;
}

std::string with_vm(const std::string& yaml, const std::string& vm_line) {
  std::string y = yaml;
  auto pos = y.find("port_forwards:");
  return y.insert(pos, vm_line + "\n");
}

TEST(NftDiff, EmptyKernelGetsTheWholeTableInOneBatch) {
  auto plan = compile(valid_config(kSmallGateway));
  auto change = diff_table(std::nullopt, plan.table);
  EXPECT_TRUE(change.created);
  EXPECT_EQ(change.commands.front(), nft::add_table_cmd(plan.table));
  backend::FakeNftBackend kernel;
  kernel.apply(change.batch());
  EXPECT_EQ(kernel.batches_applied, 1);
}

TEST(NftDiff, SameTableTwiceYieldsNothing) {
  auto plan = compile(valid_config(kSmallGateway));
  backend::FakeNftBackend kernel;
  converge(kernel, plan.table);
  auto again = converge(kernel, plan.table);
  EXPECT_TRUE(again.empty());
  EXPECT_EQ(again.summary(), "nothing");
  EXPECT_EQ(kernel.batches_applied, 1);
}

TEST(NftDiff, AddingAVmTouchesOnlyItsElementsAndChains) {
  backend::FakeNftBackend kernel;
  converge(kernel, compile(valid_config(kSmallGateway)).table);
  auto bigger = compile(valid_config(
      with_vm(kSmallGateway,
              "  - {name: app, network: vmnet, mac: \"52:54:00:00:00:0c\", ip: 10.10.0.12}")));
  auto change = converge(kernel, bigger.table);
  EXPECT_FALSE(change.created);
  EXPECT_FALSE(change.rebuilt);
  EXPECT_EQ(change.chains_added, 0);    // its flows are counted by elements, not chains
  EXPECT_EQ(change.chains_changed, 0);  // base chains untouched
  EXPECT_EQ(change.elements_added, 2);  // vm_egress, vm_ingress
  EXPECT_EQ(change.elements_removed, 0);
  EXPECT_EQ(change.commands.size(), 2u /*element batches*/);
  EXPECT_TRUE(converge(kernel, bigger.table).empty());
}

TEST(NftDiff, RemovingAVmDeletesItsElementsBeforeItsChains) {
  backend::FakeNftBackend kernel;
  const std::string app =
      "  - {name: app, network: vmnet, mac: \"52:54:00:00:00:0c\", ip: 10.10.0.12, port: vnet-app, "
      "filters: [{filter: clean-traffic}]}";
  auto small = compile(valid_config(with_vm(kSmallGateway, "")));
  auto bigger = compile(valid_config(with_vm(kSmallGateway, app)));
  converge(kernel, bigger.bridge_table);
  // The fake refuses to delete a chain still referenced by a rule (the dispatch chain's), so this
  // also proves the batch order. The program's sets go with it, elements and all.
  auto change = converge(kernel, small.bridge_table);
  EXPECT_GT(change.chains_removed, 0);
  EXPECT_GT(change.chains_changed, 0);  // the dispatch chain, without the program
  EXPECT_EQ(kernel.read_table("bridge", "vmgw")->sets.size(), small.bridge_table.sets.size());
  EXPECT_EQ(kernel.read_table("bridge", "vmgw")->chains.size(), small.bridge_table.chains.size());
  EXPECT_TRUE(converge(kernel, small.bridge_table).empty());
}

TEST(NftDiff, ChangedMapValueIsDeletedAndReAdded) {
  backend::FakeNftBackend kernel;
  converge(kernel, compile(valid_config(kSmallGateway)).table);
  std::string moved = kSmallGateway;
  moved.replace(moved.find("to: \"web:80\""), 12, "to: \"web:81\"");
  auto change = converge(kernel, compile(valid_config(moved)).table);
  EXPECT_EQ(change.elements_added, 1);
  EXPECT_EQ(change.elements_removed, 1);
  EXPECT_EQ(change.chains_changed, 0);
}

TEST(NftDiff, ChangedRuleRewritesOnlyItsChain) {
  backend::FakeNftBackend kernel;
  converge(kernel, compile(valid_config(kSmallGateway)).table);
  auto with_ssh =
      compile(valid_config(std::string(kSmallGateway) + "host:\n  allow:\n    - {port: 22}\n"));
  auto change = converge(kernel, with_ssh.table);
  EXPECT_EQ(change.chains_changed, 1);
  EXPECT_EQ(change.commands.front(),
            nft::flush_chain_cmd(with_ssh.table, *with_ssh.table.find_chain("filter_input")));
}

TEST(NftDiff, ForeignRuleInOurChainIsRemovedByRewritingTheChain) {
  backend::FakeNftBackend kernel;
  auto plan = compile(valid_config(kSmallGateway));
  converge(kernel, plan.table);
  kernel.table->chains[0].rules.push_back({{nft::accept()}, "", "!"});  // someone else's rule
  auto change = converge(kernel, plan.table);
  EXPECT_EQ(change.chains_changed, 1);
  EXPECT_TRUE(converge(kernel, plan.table).empty());
}

TEST(NftDiff, ChangedSetDeclarationRebuildsTheTableInTheSameBatch) {
  backend::FakeNftBackend kernel;
  auto plan = compile(valid_config(kSmallGateway));
  converge(kernel, plan.table);
  kernel.table->sets[0].flags = {"interval"};  // an older vmgw declared it differently
  auto change = converge(kernel, plan.table);
  EXPECT_TRUE(change.rebuilt);
  EXPECT_EQ(change.commands.front(), nft::delete_table_cmd(plan.table));
  EXPECT_TRUE(converge(kernel, plan.table).empty());
}

TEST(NftDiff, RefusedBatchLeavesThePreviousTable) {
  backend::FakeNftBackend kernel;
  auto plan = compile(valid_config(kSmallGateway));
  converge(kernel, plan.table);
  auto before = kernel.list_text("inet", "vmgw");
  kernel.fail_next_with = "Error: Could not process rule: injected";
  auto bigger = compile(valid_config(
      with_vm(kSmallGateway,
              "  - {name: app, network: vmnet, mac: \"52:54:00:00:00:0c\", ip: 10.10.0.12}")));
  EXPECT_THROW(converge(kernel, bigger.table), backend::NftError);
  EXPECT_EQ(kernel.list_text("inet", "vmgw"), before);
}

TEST(NftDiff, HelpersComeAndGoWithTheRulesThatAttachThem) {
  backend::FakeNftBackend kernel;
  converge(kernel, compile(valid_config(kSmallGateway)).table);
  std::string with_ftp = kSmallGateway;
  with_ftp.replace(with_ftp.find("masquerade: [isp1]}"), 19, "masquerade: [isp1], helpers: [ftp]}");
  auto want = compile(valid_config(with_ftp)).table;
  ASSERT_EQ(want.helpers.size(), 1u);
  auto added = converge(kernel, want);
  EXPECT_FALSE(added.rebuilt);
  ASSERT_TRUE(kernel.table);
  EXPECT_EQ(kernel.table->helpers, want.helpers);
  EXPECT_TRUE(diff_table(kernel.read_table("inet", "vmgw"), want).empty());
  // Back without it: its base chain goes too, which replaces the table in the same batch.
  auto removed = converge(kernel, compile(valid_config(kSmallGateway)).table);
  EXPECT_TRUE(removed.rebuilt);
  EXPECT_TRUE(kernel.table->helpers.empty());
}

TEST(NftDiff, SummaryCountsWhatChanged) {
  NftChange c;
  c.commands.push_back(nullptr);
  c.elements_added = 2;
  c.elements_removed = 1;
  c.chains_changed = 1;
  EXPECT_EQ(c.summary(), "+2 elements, -1 element, 1 chain rewritten");
}

}  // namespace
}  // namespace vmgw
