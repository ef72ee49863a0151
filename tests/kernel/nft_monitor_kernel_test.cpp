// The nftables monitor against the real kernel (the test process's private network namespace):
// vmgw's own batches, large (applied with the events paused) or small, are never taken for
// another program's change; another program's change is, named when it was heard and as
// "unknown" when it happened while the events were paused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <string>

#include "backend/nft_backend.h"
#include "backend/nft_monitor.h"
#include "support.h"

namespace vmgw::backend {
namespace {

using kernel_test::run;
using kernel_test::sh;

nft::Json table_with_elements(size_t n) {
  nft::Json elems = nft::Json::array();
  for (size_t i = 0; i < n; ++i)
    elems.push_back("10." + std::to_string(i / 65536) + "." + std::to_string(i / 256 % 256) + "." +
                    std::to_string(i % 256));
  const nft::Json ref = {{"family", "inet"}, {"table", "vmgw"}, {"name", "s"}};
  nft::Json set = ref;
  set["type"] = "ipv4_addr";
  nft::Json element = ref;
  element["elem"] = elems;
  return {{"nftables",
           {{{"add", {{"table", {{"family", "inet"}, {"name", "vmgw"}}}}}},
            {{"add", {{"set", set}}}},
            {{"add", {{"element", element}}}}}}};
}

class NftMonitorKernel : public ::testing::Test {
 protected:
  void SetUp() override {
    if (run("command -v nft").empty()) GTEST_SKIP() << "nft binary not installed";
    sh("nft delete table inet vmgw 2>/dev/null");
    monitor_ = open_nft_monitor(static_cast<uint32_t>(getpid()));
    kernel_ = make_libnftables_backend();
    nft_ = noting_own_transactions(*kernel_, monitor_.get());
  }
  void TearDown() override { sh("nft delete table inet vmgw 2>/dev/null"); }
  std::unique_ptr<NftMonitor> monitor_;
  std::unique_ptr<NftBackend> kernel_;
  std::unique_ptr<NftBackend> nft_;
};

TEST_F(NftMonitorKernel, OwnBatchesLargeOrSmallAreNotForeignAnotherProgramsChangeIs) {
  nft_->apply(table_with_elements(3 * kQuietBatch));  // with the events paused
  EXPECT_TRUE(monitor_->foreign_changes().empty());
  nft_->apply(table_with_elements(3));  // heard: three elements already there
  EXPECT_TRUE(monitor_->foreign_changes().empty());

  ASSERT_EQ(sh("nft add element inet vmgw s '{ 192.0.2.1 }'"), 0);
  auto found = monitor_->foreign_changes();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "nft");

  // A large own batch after it is still ours.
  nft_->apply(table_with_elements(2 * kQuietBatch));
  EXPECT_TRUE(monitor_->foreign_changes().empty());
}

TEST_F(NftMonitorKernel, AChangeMadeWhileTheEventsArePausedIsStillFound) {
  nft_->apply(table_with_elements(10));
  ASSERT_TRUE(monitor_->foreign_changes().empty());
  monitor_->pause_events();
  ASSERT_EQ(sh("nft add element inet vmgw s '{ 192.0.2.2 }'"), 0);
  monitor_->resume_events();
  auto found = monitor_->foreign_changes();
  ASSERT_EQ(found.size(), 1u) << "judged by the generation, which moved without vmgw";
  EXPECT_EQ(found[0].name, "unknown (events lost)");
}

TEST_F(NftMonitorKernel, ARefusedLargeBatchLeavesTheEventsListenedTo) {
  nft_->apply(table_with_elements(10));
  ASSERT_TRUE(monitor_->foreign_changes().empty());
  auto bad = table_with_elements(2 * kQuietBatch);
  bad["nftables"][1]["add"]["set"]["type"] = "no_such_type";
  EXPECT_THROW(nft_->apply(bad), std::exception);
  EXPECT_TRUE(monitor_->foreign_changes().empty());
  ASSERT_EQ(sh("nft add element inet vmgw s '{ 192.0.2.3 }'"), 0);
  auto found = monitor_->foreign_changes();
  ASSERT_EQ(found.size(), 1u);
  EXPECT_EQ(found[0].name, "nft") << "heard, so named";
}

}  // namespace
}  // namespace vmgw::backend
