// gtest main for the kernel tests.
//
// The whole test process moves into a new, anonymous network namespace (unshare(CLONE_NEWNET))
// before any test runs: every link, address, route and nftables table the tests create lives
// there and vanishes with the process. Nothing in the machine's own namespace is ever touched,
// so there is nothing to clean up, even after a crash. CLONE_NEWNS (a private mount namespace)
// is not needed: netlink sockets belong to the namespace current when they are opened, and
// /proc/sys/net and /proc/net already follow the calling process's network namespace. Only
// /sys/class/net would still show the machine's devices (sysfs is bound to the namespace it was
// mounted in), and no test reads it; remounting /sys is what would need CLONE_NEWNS.
//
// unshare() must run before any thread exists: it only moves the calling thread, and threads
// started earlier would stay behind in the machine's namespace.
//
// Without root (or without the right to unshare) the suite cannot run: it says SKIP and exits 77,
// which ctest (SKIP_RETURN_CODE 77) reports as skipped, never as passed. With
// VMGW_TESTS_STRICT=1 (scripts/test as root, so CI) that is a failure (exit 1) instead: a run that
// claims to test the kernel must test it. A test skipped inside the suite (GTEST_SKIP) makes the
// whole suite report skipped (77), or fail in strict mode: some of its checks did not run.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>

#include "backend/rtnl.h"

namespace {

constexpr int kSkipped = 77;  // ctest's SKIP_RETURN_CODE (tests/CMakeLists.txt)

bool strict() {
  const char* v = std::getenv("VMGW_TESTS_STRICT");
  return v != nullptr && std::string(v) == "1";
}

// The whole suite cannot run: skipped (77), or a failure in strict mode.
int skip(const std::string& why) {
  if (strict()) {
    std::printf("FAIL: %s (VMGW_TESTS_STRICT=1: a skip is a failure)\n", why.c_str());
    return 1;
  }
  std::printf("SKIP: %s\n", why.c_str());
  return kSkipped;
}

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (geteuid() != 0)
    return skip("kernel tests need root (they create a private network namespace)");
  if (unshare(CLONE_NEWNET) != 0) {
    int e = errno;
    if (e == EPERM) {  // root without CAP_SYS_ADMIN, e.g. an unprivileged container
      return skip(std::string("unshare(CLONE_NEWNET): ") + std::strerror(e));
    }
    std::fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", std::strerror(e));
    return 1;
  }
  try {
    vmgw::backend::make_mnl_rtnl()->set_up("lo");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cannot set up lo in the test namespace: %s\n", e.what());
    return 1;
  }
  int rc = RUN_ALL_TESTS();
  const int skipped = testing::UnitTest::GetInstance()->skipped_test_count();
  if (rc == 0 && skipped > 0) {
    // Some checks did not run: not a pass (ctest shows the suite as skipped, and the log says
    // which ones), a failure in strict mode.
    return skip(std::to_string(skipped) + " kernel test(s) skipped (see [  SKIPPED ] above)");
  }
  return rc;
}
