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
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>

#include "backend/rtnl.h"

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  if (geteuid() != 0) {
    std::puts("SKIP: kernel tests need root (they create a private network namespace)");
    return 0;
  }
  if (unshare(CLONE_NEWNET) != 0) {
    int e = errno;
    if (e == EPERM) {  // root without CAP_SYS_ADMIN, e.g. an unprivileged container
      std::printf("SKIP: unshare(CLONE_NEWNET): %s\n", std::strerror(e));
      return 0;
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
  return RUN_ALL_TESTS();
}
