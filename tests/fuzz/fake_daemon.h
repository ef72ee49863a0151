// An in-process vmgwd for the fuzzers: the real router and Gateway over fake kernel backends
// and an in-memory store, with a small fixed topology (one VM network with DHCP, a LAN, an
// elastic IP pool of three addresses).
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "api/router.h"
#include "backend/conntrack.h"
#include "backend/dhcp.h"
#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "backend/garp.h"
#include "backend/sysctl.h"
#include "daemon/filter_routes.h"
#include "daemon/gateway.h"
#include "daemon/log_book.h"
#include "daemon/routes.h"
#include "model/load.h"
#include "store/state_store.h"

namespace vmgw::fuzz {

// A broken promise: abort, so libFuzzer keeps the input.
inline void check(bool ok, const std::string& what) {
  if (ok) return;
  std::fprintf(stderr, "invariant broken: %s\n", what.c_str());
  std::abort();
}

inline const char* kTopology = R"(
uplinks:
  - {name: isp1, device: wan0, address: 203.0.113.2/24, gateway: 203.0.113.1}
networks:
  - {name: vmnet, bridge: br-vm, subnet: 10.10.0.0/28, gateway: 10.10.0.1, dhcp: true, masquerade: [isp1]}
  - {name: lan, bridge: lan0, subnet: 192.168.50.0/24, gateway: 192.168.50.1}
elastic_ips:
  pools:
    - {name: public, uplink: isp1, range: 203.0.113.16-203.0.113.18}
)";

inline const Config& topology() {
  static const Config c = [] {
    auto r = load_config(kTopology, "vmgw.yaml");
    return std::get<Validated<Config>>(std::move(r)).get();
  }();
  return c;
}

struct Daemon {
  backend::FakeNftBackend nft;
  backend::FakeRtnl rtnl;
  backend::FakeSysctl sysctl;
  backend::FakeDhcp dhcp;
  Backends backends{nft, rtnl, sysctl, dhcp};
  backend::FakeConntrack conntrack;
  backend::FakeAnnouncer announcer;
  std::unique_ptr<store::StateStore> store = store::make_memory_store();
  std::unique_ptr<daemon::Gateway> gw;
  daemon::DaemonInfo info;
  daemon::LogBook log{64};
  api::Router router;

  Daemon() {
    rtnl.add_link("wan0", "veth");
    gw = std::make_unique<daemon::Gateway>(
        topology(), daemon::Dependencies{*store, backends, conntrack, announcer});
    gw->start();
    info.version = "fuzz";
    info.dhcp_state = [] { return std::map<std::string, std::string>{{"vmnet", "running"}}; };
    info.dhcp_restarts = [] { return uint64_t{0}; };
    daemon::add_routes(router, *gw, info);
    daemon::add_filter_routes(router, *gw, log);
  }
};

}  // namespace vmgw::fuzz
