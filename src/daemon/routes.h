// The REST API of vmgwd (docs/api.md): HTTP routes -> Gateway calls -> JSON.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "api/router.h"
#include "daemon/gateway.h"
#include "daemon/libvirt_follower.h"
#include "daemon/uplink_health.h"

namespace vmgw::daemon {

struct DaemonInfo {
  std::string version;
  std::string config_path;
  int pid = 0;
  // DHCP server state per network ("running", "restarting", ...), and restart counts.
  std::function<std::map<std::string, std::string>()> dhcp_state;
  std::function<uint64_t()> dhcp_restarts;
  // The uplinks' probe states and statistics (empty when probes are unavailable).
  std::function<std::vector<UplinkStatus>()> uplink_status;
  // The drop log (vmgw log): packets logged by vmgw's rules and received, NFLOG socket overruns
  // (packets lost, how many unknown), and packets not logged for being over host.drop_log
  // (read from the kernel; nullopt when it cannot be read). Unset: no drop log.
  struct DropLog {
    uint64_t logged = 0, overruns = 0;
    std::optional<uint64_t> suppressed;
  };
  std::function<DropLog()> drop_log;
  // Following libvirt (the config's libvirt section). Unset: not following.
  std::function<LibvirtStatus()> libvirt;
};

// Runs `f`, turning a ServiceError into its JSON error response.
api::Response guarded(const std::function<api::Response()>& f);

// Registers every route on `router`. `gw` and `info` must outlive it.
void add_routes(api::Router& router, Gateway& gw, DaemonInfo& info);

// The uplinks for GET /v1/uplinks (uplink_routes.cpp): declared, numbered, healthy or not,
// what they carry, their pinned flows.
nlohmann::json uplinks_json(Gateway& gw, const std::vector<UplinkStatus>& status);

// Prometheus text exposition of the daemon's state and counters.
std::string metrics_text(const Gateway& gw, const DaemonInfo& info);

}  // namespace vmgw::daemon
