// The dnsmasq backend's checks that need no process.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "backend/dhcp.h"

namespace vmgw::backend {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("vmgw-dnsmasq-test-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Dnsmasq, CreatesItsDirectories) {
  TempDir t;
  ::chmod(t.path.c_str(), 0755);
  EXPECT_NO_THROW(
      make_dnsmasq({(t.path / "state").string(), (t.path / "run").string(), "/usr/bin/vmgw"}));
  EXPECT_TRUE(fs::is_directory(t.path / "state" / "dhcp"));
  EXPECT_TRUE(fs::is_directory(t.path / "run"));
}

TEST(Dnsmasq, RefusesQuotesInPathsItWritesIntoTheHookScript) {
  TempDir t;
  ::chmod(t.path.c_str(), 0755);
  EXPECT_THROW(
      make_dnsmasq({(t.path / "st'ate").string(), (t.path / "run").string(), "/usr/bin/vmgw"}),
      std::runtime_error);
}

TEST(Dnsmasq, ANetworkNoLongerServedLosesItsHostsFileButNotItsLeaseEvents) {
  TempDir t;
  ::chmod(t.path.c_str(), 0755);
  auto dhcp =
      make_dnsmasq({(t.path / "state").string(), (t.path / "run").string(), "/usr/bin/vmgw"});
  const std::string state = (t.path / "state").string();
  for (const char* net : {"gone", "kept"}) {
    std::ofstream(dhcp_hosts_path(state, net)) << "52:54:00:00:00:0a,10.10.0.10,web\n";
    std::ofstream(dhcp_events_path(state, net)) << "an event\n";
  }
  dhcp->stop_except({"kept"});
  EXPECT_FALSE(fs::exists(dhcp_hosts_path(state, "gone")));
  EXPECT_TRUE(fs::exists(dhcp_events_path(state, "gone")));
  EXPECT_TRUE(fs::exists(dhcp_hosts_path(state, "kept")));
}

}  // namespace
}  // namespace vmgw::backend
