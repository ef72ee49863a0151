// The dnsmasq backend's checks that need no process: a state directory dnsmasq could not read
// after dropping root is refused up front, with the directory and the fix in the message.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "backend/dhcp.h"

namespace vmgw::backend {
namespace {

namespace fs = std::filesystem;

struct TempDir {
  fs::path path = fs::temp_directory_path() / ("vmgw-dnsmasq-test-" + std::to_string(::getpid()));
  TempDir() { fs::create_directories(path); }
  ~TempDir() { fs::remove_all(path); }
};

TEST(Dnsmasq, RefusesAStateDirItsUnprivilegedUserCannotReach) {
  TempDir t;
  ::chmod(t.path.c_str(), 0700);
  try {
    make_dnsmasq({(t.path / "state").string(), (t.path / "run").string(), "/usr/bin/vmgw"});
    FAIL() << "expected a refusal";
  } catch (const std::runtime_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find(t.path.string() + " (mode 0700) is not searchable by others"), std::string::npos) << msg;
    EXPECT_NE(msg.find("chmod o+x"), std::string::npos) << msg;
  }
}

TEST(Dnsmasq, AcceptsASearchableStateDir) {
  TempDir t;
  ::chmod(t.path.c_str(), 0755);
  EXPECT_NO_THROW(make_dnsmasq({(t.path / "state").string(), (t.path / "run").string(), "/usr/bin/vmgw"}));
  EXPECT_TRUE(fs::is_directory(t.path / "state" / "dhcp"));
}

TEST(Dnsmasq, RefusesQuotesInPathsItWritesIntoTheHookScript) {
  TempDir t;
  ::chmod(t.path.c_str(), 0755);
  EXPECT_THROW(make_dnsmasq({(t.path / "st'ate").string(), (t.path / "run").string(), "/usr/bin/vmgw"}),
               std::runtime_error);
}

}  // namespace
}  // namespace vmgw::backend
