// Writers on one SQLite file from two store objects (as two vmgw processes would have), many
// threads each: allocating "the first free address" inside a transaction never hands out an
// address twice, because begin() takes the database's write lock before the transaction reads.

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "store/state_store.h"

namespace vmgw::store {
namespace {

constexpr int kThreads = 8;
constexpr int kAllocationsPerThread = 50;
constexpr uint32_t kRangeSize = 64;
constexpr int kMaxAttempts = 20000;  // per allocation; a refused begin() costs one

class SqliteStoreConcurrencyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = "/tmp/vmgw-store-concurrency-XXXXXX";
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::filesystem::path dir_;
};

enum class Outcome { allocated, range_full, gave_up };

// One "allocate the first free address of the range" transaction, retried while the store is
// busy (another thread's transaction on this store object, or the other store's write lock).
Outcome allocate(StateStore& store, Ipv4 base, std::mt19937& rng, Ipv4& got, int& retries) {
  std::uniform_int_distribution<int> backoff_us(50, 500);
  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    try {
      auto txn = store.begin();
      StoredState s = store.load();
      std::set<Ipv4> taken;
      for (const auto& e : s.eips) taken.insert(e.address);
      std::optional<Ipv4> slot;
      for (uint32_t i = 0; i < kRangeSize && !slot; ++i) {
        Ipv4 a{base.value + i};
        if (!taken.contains(a)) slot = a;
      }
      if (!slot) return Outcome::range_full;  // the transaction rolls back
      txn->add_eip({*slot, "pool", ""});
      txn->set_generation(s.generation + 1);
      txn->commit();
      got = *slot;
      return Outcome::allocated;
    } catch (const StoreError&) {  // includes StoreConflict
      ++retries;
      std::this_thread::sleep_for(std::chrono::microseconds(backoff_us(rng)));
    }
  }
  return Outcome::gave_up;
}

TEST_F(SqliteStoreConcurrencyTest, EveryAddressIsAllocatedExactlyOnce) {
  std::string path = dir_ / "state.db";
  std::unique_ptr<StateStore> stores[2] = {open_sqlite_store(path), open_sqlite_store(path)};
  const Ipv4 base = *Ipv4::parse("203.0.113.0");

  std::vector<std::vector<Ipv4>> allocated(kThreads);
  std::vector<int> gave_up(kThreads, 0), retries(kThreads, 0);
  std::vector<std::thread> threads;
  threads.reserve(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937 rng(static_cast<unsigned>(t));
      StateStore& store = *stores[t % 2];
      for (int i = 0; i < kAllocationsPerThread; ++i) {
        Ipv4 got;
        switch (allocate(store, base, rng, got, retries[t])) {
          case Outcome::allocated:
            allocated[t].push_back(got);
            break;
          case Outcome::range_full:
            break;
          case Outcome::gave_up:
            ++gave_up[t];
            break;
        }
      }
    });
  }
  for (auto& th : threads) th.join();

  std::multiset<Ipv4> all;
  for (const auto& v : allocated) all.insert(v.begin(), v.end());
  std::set<Ipv4> distinct(all.begin(), all.end());
  const size_t total = size_t{kThreads} * kAllocationsPerThread;
  const size_t want = std::min<size_t>(total, kRangeSize);
  EXPECT_EQ(all.size(), want) << "an address was handed out twice";
  EXPECT_EQ(distinct.size(), want);
  for (int t = 0; t < kThreads; ++t) EXPECT_EQ(gave_up[t], 0) << "thread " << t;

  // Both store objects, and a fresh one, agree with what the threads were told.
  for (const auto& store : {stores[0].get(), stores[1].get()}) {
    StoredState s = store->load();
    std::set<Ipv4> stored;
    for (const auto& e : s.eips) stored.insert(e.address);
    EXPECT_EQ(stored, distinct);
    EXPECT_EQ(s.generation, want);  // one committed change per allocation
  }
  stores[0].reset();
  stores[1].reset();
  EXPECT_EQ(open_sqlite_store(path)->load().eips.size(), want);
}

}  // namespace
}  // namespace vmgw::store
