// ProcSysctl against the kernel, inside the private network namespace set up by main.cpp: the
// per-namespace keys vmgw writes are writable there, the host-wide ones read-only, which is what
// lets apply leave nf_conntrack_max to the host outside its own namespace (docs/config.md).
#include <gtest/gtest.h>

#include "backend/sysctl.h"
#include "support.h"

namespace vmgw::backend {
namespace {

TEST(SysctlKernel, PerNamespaceKeyIsWritableAndRoundTrips) {
  auto sysctl = make_proc_sysctl();
  ASSERT_TRUE(sysctl->get("net/ipv4/ip_forward").has_value());
  EXPECT_TRUE(sysctl->writable("net/ipv4/ip_forward"));
  sysctl->set("net/ipv4/ip_forward", "1");
  EXPECT_EQ(sysctl->get("net/ipv4/ip_forward"), "1");
}

TEST(SysctlKernel, ConntrackMaxIsReadOnlyOutsideTheHostsNamespace) {
  kernel_test::sh("nft add table inet vmgw_sysctl_probe 2>/dev/null");  // loads nf_conntrack
  kernel_test::sh(
      "nft 'add chain inet vmgw_sysctl_probe c { type filter hook input priority 0; }"
      "; add rule inet vmgw_sysctl_probe c ct state new accept' 2>/dev/null");
  auto sysctl = make_proc_sysctl();
  if (!sysctl->get("net/netfilter/nf_conntrack_max")) GTEST_SKIP() << "nf_conntrack not loaded";
  EXPECT_FALSE(sysctl->writable("net/netfilter/nf_conntrack_max"));
  EXPECT_FALSE(sysctl->writable("net/ipv4/no_such_key"));
  kernel_test::sh("nft delete table inet vmgw_sysctl_probe 2>/dev/null");
}

}  // namespace
}  // namespace vmgw::backend
