// Lease events come from guests, through dnsmasq's hook: each field is checked before it is kept
// (lease_event_errors), so a guest cannot fill the database with a 900 KB hostname or put
// terminal escapes into `vmgw leases`.
#include "model/lease_event.h"

#include <gtest/gtest.h>

namespace vmgw {
namespace {

const std::time_t kNow = *parse_utc_time("2026-12-07T04:00:00Z");

LeaseEvent good() {
  return {"2026-12-07T03:59:58Z", "vmnet", "add", "52:54:00:00:00:0a", "10.10.0.10", "web-1"};
}

std::vector<std::string> fields(const LeaseEvent& e) {
  std::vector<std::string> out;
  for (const auto& [f, why] : lease_event_errors(e, kNow)) out.push_back(f);
  return out;
}

TEST(LeaseEvent, AnEventFromDnsmasqPasses) {
  EXPECT_TRUE(fields(good()).empty());
  auto e = good();
  e.hostname = "";  // a client that sent no name
  EXPECT_TRUE(fields(e).empty());
  e.hostname = "db_2.example.org";
  EXPECT_TRUE(fields(e).empty());
}

TEST(LeaseEvent, HostnamesAreDnsNamesOfBoundedLength) {
  using V = std::vector<std::string>;
  for (std::string bad : {std::string(900 * 1024, 'a'), std::string(64, 'a'), std::string("a..b"),
                          std::string(".a"), std::string("a."), std::string("evil\x1b[2Jname"),
                          std::string("a b"), std::string("caf\xc3\xa9")}) {
    auto e = good();
    e.hostname = bad;
    EXPECT_EQ(fields(e), V{"hostname"}) << bad.substr(0, 20);
  }
  auto e = good();
  e.hostname = std::string(63, 'a') + "." + std::string(63, 'b');
  EXPECT_TRUE(fields(e).empty());
}

TEST(LeaseEvent, TimesAreUtcAndNotFarAhead) {
  using V = std::vector<std::string>;
  for (const char* bad : {"", "2026-12-07 04:00:00", "2026-02-31T00:00:00Z", "2026-12-07T24:00:00Z",
                          "2026-12-09T04:00:01Z", "+2026-12-07T04:00:0Z"}) {
    auto e = good();
    e.time = bad;
    EXPECT_EQ(fields(e), V{"time"}) << bad;
  }
  auto e = good();
  e.time = "2026-12-08T03:59:59Z";  // clocks a little apart
  EXPECT_TRUE(fields(e).empty());
  EXPECT_EQ(format_utc_time(kNow), "2026-12-07T04:00:00Z");
}

TEST(LeaseEvent, EveryOtherFieldIsChecked) {
  LeaseEvent e{"x", "Bad Net", "renew", "52:54:00", "10.0.0", "ok"};
  EXPECT_EQ(fields(e), (std::vector<std::string>{"time", "network", "action", "mac", "ip"}));
}

}  // namespace
}  // namespace vmgw
