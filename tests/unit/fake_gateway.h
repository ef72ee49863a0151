// What a daemon::Gateway runs on in unit tests: the kernel backends, conntrack, the announcer
// and an in-memory store, all fakes. A fixture derives from it and starts its Gateway with
// deps().
#pragma once

#include <memory>

#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "daemon/gateway.h"

namespace vmgw::testing {

struct FakeGatewayHost {
  backend::FakeNftBackend nft;
  backend::FakeRtnl rtnl;
  backend::FakeSysctl sysctl;
  backend::FakeDhcp dhcp;
  Backends backends{nft, rtnl, sysctl, dhcp};
  backend::FakeConntrack conntrack;
  backend::FakeAnnouncer announcer;
  std::unique_ptr<store::StateStore> store = store::make_memory_store();
  daemon::Dependencies deps() { return {*store, backends, conntrack, announcer}; }
};

}  // namespace vmgw::testing
