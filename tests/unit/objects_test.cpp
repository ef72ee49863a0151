// The objects in force keep their VMs unsorted, by position: these tests hold the lookups and the
// two parallel lists (stored records, desired VMs) together across adds, replaces and removes.
#include "daemon/objects.h"

#include <gtest/gtest.h>

#include <string>

namespace vmgw::daemon {
namespace {

store::VmRecord vm_record(const std::string& name, int n) {
  store::VmRecord v;
  v.name = name;
  v.network = "lan";
  v.mac = *Mac::parse("52:54:00:00:00:" + std::to_string(10 + n));
  v.ip = *Ipv4::parse("10.0.0." + std::to_string(10 + n));
  v.port = "vnet" + std::to_string(n);
  return v;
}

// Each stored VM is found by name, MAC, address and port, and its desired VM sits at the same
// position with the same name.
void expect_consistent(const Objects& o) {
  ASSERT_EQ(o.state().vms.size(), o.desired().vms.size());
  for (size_t i = 0; i < o.state().vms.size(); ++i) {
    const auto& rec = o.state().vms[i];
    EXPECT_EQ(o.desired().vms[i].name, rec.name) << "position " << i;
    ASSERT_NE(o.vm(rec.name), nullptr) << rec.name;
    EXPECT_EQ(*o.vm(rec.name), rec);
    ASSERT_NE(o.desired_vm(rec.name), nullptr) << rec.name;
    EXPECT_EQ(o.desired_vm(rec.name)->name, rec.name);
    EXPECT_EQ(o.vm_with_mac(rec.mac), rec.name);
    EXPECT_EQ(o.vm_with_ip(rec.ip), rec.name);
    EXPECT_EQ(o.vm_with_port(rec.port), rec.name);
  }
}

TEST(Objects, RemovingAVmInTheMiddleKeepsEveryOtherFoundAndTheListsParallel) {
  Objects o;
  store::StoredState s;
  for (int i = 0; i < 5; ++i) s.vms.push_back(vm_record("vm" + std::to_string(i), i));
  o.reset(Config{}, s);
  expect_consistent(o);

  StateChange c;
  c.removed_vms = {"vm1", "vm4"};  // one in the middle, one that may be the last moved
  o.apply(c);
  EXPECT_EQ(o.vm("vm1"), nullptr);
  EXPECT_EQ(o.vm("vm4"), nullptr);
  EXPECT_EQ(o.desired_vm("vm1"), nullptr);
  EXPECT_EQ(o.vm_with_mac(vm_record("vm1", 1).mac), "");
  EXPECT_EQ(o.state().vms.size(), 3u);
  expect_consistent(o);
}

TEST(Objects, PuttingAVmAddsANewOneAndReplacesAnExistingOneInPlace) {
  Objects o;
  store::StoredState s;
  for (int i = 0; i < 3; ++i) s.vms.push_back(vm_record("vm" + std::to_string(i), i));
  o.reset(Config{}, s);

  StateChange c;
  auto moved = vm_record("vm0", 0);
  moved.ip = *Ipv4::parse("10.0.0.99");  // a new address for an existing VM
  c.put_vms = {vm_record("a-new", 7), moved};
  o.apply(c);
  EXPECT_EQ(o.state().vms.size(), 4u);
  EXPECT_EQ(o.vm("vm0")->ip, *Ipv4::parse("10.0.0.99"));
  EXPECT_EQ(o.vm_with_ip(*Ipv4::parse("10.0.0.10")), "") << "the old address is free again";
  EXPECT_EQ(o.vm_with_ip(*Ipv4::parse("10.0.0.99")), "vm0");
  expect_consistent(o);

  // Remove then add back in one change: the VM is there once.
  StateChange again;
  again.removed_vms = {"vm2"};
  again.put_vms = {vm_record("vm2", 2)};
  o.apply(again);
  EXPECT_EQ(o.state().vms.size(), 4u);
  expect_consistent(o);
}

}  // namespace
}  // namespace vmgw::daemon
