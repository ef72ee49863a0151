// A host of fakes for apply and down: the uplink wan0, a VM port vnet-web (down), forwarding
// off, and the four backends wired as Backends.
#pragma once

#include <algorithm>
#include <string>

#include "apply/apply.h"
#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"

namespace vmgw::testing {

struct FakeHost {
  backend::FakeNftBackend nft;
  backend::FakeRtnl rtnl;
  backend::FakeSysctl sysctl;
  backend::FakeDhcp dhcp;
  Backends backends{nft, rtnl, sysctl, dhcp};
  FakeHost() {
    rtnl.add_link("lo");
    rtnl.add_link("wan0", "veth");
    rtnl.add_link("vnet-web", "tap", false);
    sysctl.values["net/ipv4/ip_forward"] = "0";
  }
  bool has_address(const std::string& dev, const std::string& a) const {
    backend::AddressInfo x{dev, *InterfaceAddress::parse(a)};
    return std::find(rtnl.addresses_.begin(), rtnl.addresses_.end(), x) != rtnl.addresses_.end();
  }
  bool has_link(const std::string& name) const {
    return std::any_of(rtnl.links_.begin(), rtnl.links_.end(),
                       [&](const backend::LinkInfo& l) { return l.name == name; });
  }
};

}  // namespace vmgw::testing
