// Who may use vmgwd's API (api/access.h) and how its connections are shared among users
// (api/connection_share.h): the pure policy, without users, groups or sockets.
#include <gtest/gtest.h>

#include "api/access.h"
#include "api/connection_share.h"

namespace vmgw::api {
namespace {

const AccessPolicy kPolicy{0, Group{1000, "vmgw"}, Group{1001, "vmgw-ro"}};

PeerCredentials peer(int64_t uid, std::vector<uint32_t> gids) {
  return {uid, 1234, std::move(gids)};
}

TEST(ApiAccess, RootAndTheDaemonsOwnUserHaveFullControl) {
  EXPECT_EQ(access_of(peer(0, {0}), kPolicy), Access::full);
  EXPECT_EQ(access_of(peer(0, {}), AccessPolicy{}), Access::full);  // even with no group at all
  AccessPolicy own = kPolicy;
  own.owner_uid = 4242;
  EXPECT_EQ(access_of(peer(4242, {4242}), own), Access::full);
  EXPECT_EQ(access_of(peer(4243, {4243}), own), Access::none);
}

TEST(ApiAccess, ByGroupPrimaryOrSupplementary) {
  EXPECT_EQ(access_of(peer(2000, {1000}), kPolicy), Access::full);        // primary
  EXPECT_EQ(access_of(peer(2000, {2000, 1000}), kPolicy), Access::full);  // supplementary
  EXPECT_EQ(access_of(peer(2000, {2000, 1001}), kPolicy), Access::read);
  EXPECT_EQ(access_of(peer(2000, {1001, 1000}), kPolicy), Access::full);  // both: full
  EXPECT_EQ(access_of(peer(2000, {2000, 27}), kPolicy), Access::none);
  EXPECT_EQ(access_of(peer(-1, {1000}), AccessPolicy{}), Access::none);  // unknown, no groups
  // A group that does not exist gives nobody access.
  AccessPolicy no_ro{0, Group{1000, "vmgw"}, std::nullopt};
  EXPECT_EQ(access_of(peer(2000, {1001}), no_ro), Access::none);
}

TEST(ApiAccess, ReadOnlyMayOnlyRead) {
  EXPECT_TRUE(is_read_only("GET", "/v1/vms"));
  EXPECT_TRUE(is_read_only("GET", "/metrics"));
  EXPECT_TRUE(is_read_only("HEAD", "/v1/status"));
  EXPECT_TRUE(is_read_only("POST", "/v1/trace"));  // evaluates a packet, changes nothing
  EXPECT_FALSE(is_read_only("POST", "/v1/vms"));
  EXPECT_FALSE(is_read_only("DELETE", "/v1/vms/web"));
  EXPECT_FALSE(is_read_only("PUT", "/v1/vms/web/filters"));
  EXPECT_FALSE(is_read_only("POST", "/v1/trace/x"));
  EXPECT_FALSE(is_read_only("POST", "/v1/leases/events"));

  EXPECT_EQ(refusal(Access::read, 2000, "GET", "/v1/vms", kPolicy), std::nullopt);
  EXPECT_EQ(refusal(Access::read, 2000, "POST", "/v1/trace", kPolicy), std::nullopt);
  EXPECT_EQ(refusal(Access::full, 2000, "POST", "/v1/vms", kPolicy), std::nullopt);
  EXPECT_EQ(refusal(Access::read, 2000, "POST", "/v1/vms", kPolicy),
            "uid 2000 may only read (group 'vmgw-ro' (gid 1001)): POST /v1/vms changes the "
            "gateway; changes need root or group 'vmgw' (gid 1000)");
  EXPECT_EQ(refusal(Access::none, 2000, "GET", "/v1/vms", kPolicy),
            "uid 2000 may not use the vmgwd API: it is not root, not in group 'vmgw' (gid 1000), "
            "not in group 'vmgw-ro' (gid 1001)");
}

TEST(ConnectionShare, RootAlwaysHasReservedSlots) {
  const ConnectionShare share{256, 32, 64};
  // Users other than root share 224 of the 256 connections, whoever holds them.
  EXPECT_TRUE(admit(1000, {223, 63, 223}, share).admitted());
  EXPECT_EQ(admit(1001, {224, 0, 224}, share).status, 503);  // the others' part is full
  EXPECT_TRUE(admit(0, {224, 0, 224}, share).admitted());    // root still gets in
  EXPECT_TRUE(admit(0, {255, 31, 224}, share).admitted());
  EXPECT_EQ(admit(0, {256, 32, 224}, share).status, 503);  // everything is taken
}

TEST(ConnectionShare, OneUserGetsAtMostItsShare) {
  const ConnectionShare share{256, 32, 64};
  EXPECT_TRUE(admit(1000, {63, 63, 63}, share).admitted());
  const Admission refused = admit(1000, {64, 64, 64}, share);
  EXPECT_EQ(refused.status, 429);
  EXPECT_EQ(refused.reason,
            "uid 1000 already has 64 connections open, the most one user may hold "
            "(api.connections_per_user); close some or retry later");
  EXPECT_TRUE(admit(1001, {64, 0, 64}, share).admitted());  // another user is not affected
  EXPECT_TRUE(admit(0, {64, 0, 64}, share).admitted());
  // Root has no per-user share: only the total bounds it.
  EXPECT_TRUE(admit(0, {200, 200, 0}, share).admitted());
}

TEST(ConnectionShare, WithoutAShareOnlyTheTotalCounts) {
  const ConnectionShare none{2, 0, static_cast<size_t>(-1)};
  EXPECT_TRUE(admit(1000, {1, 1, 1}, none).admitted());
  EXPECT_EQ(admit(1000, {2, 2, 2}, none).status, 503);
}

}  // namespace
}  // namespace vmgw::api
