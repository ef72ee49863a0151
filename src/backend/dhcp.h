// DHCP servers: one dnsmasq per network with DHCP on. Behind an interface so that apply can be
// tested without processes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "compile/plan.h"

namespace vmgw::backend {

class Dhcp {
 public:
  virtual ~Dhcp() = default;
  // Makes the server for `s` run with the current reservations. Returns what it did:
  // "started", "restarted", "reloaded" (hosts file rewritten + SIGHUP) or "" (nothing to do).
  virtual std::string ensure(const DhcpServer& s) = 0;
  // Stops servers of networks not in `keep`; returns the networks stopped.
  virtual std::vector<std::string> stop_except(const std::vector<std::string>& keep) = 0;
  // True if the server of `network` is running now (for supervision and status).
  virtual bool running(const std::string& network) = 0;
  // Bounds the server's log: past `max_bytes`, it moves to "<log>.1" (replacing the one there)
  // and the log starts empty. True when it did.
  virtual bool trim_log(const std::string& network, uint64_t max_bytes) = 0;
  // Self-healing: when the hosts file of `s` is missing or differs from its reservations
  // (another program deleted or edited it), writes it again and has a running server re-read
  // it. Starts nothing (a dead server is the supervisor's). True when the file was rewritten.
  virtual bool restore_hosts(const DhcpServer& s) = 0;
};

// The most a dnsmasq log (--log-dhcp: about 3 KB per DHCP exchange) holds before trim_log.
inline constexpr uint64_t kMaxDhcpLogBytes = 8 * 1024 * 1024;

struct DnsmasqPaths {
  std::string state_dir;    // hosts files, lease events, logs: <state>/dhcp/
  std::string run_dir;      // pid files and the lease-event hook scripts
  std::string vmgw_binary;  // what the hook runs: `vmgw lease-event ...`
  std::string socket;       // if set, the hook reports events to vmgwd at this API socket
  std::string dnsmasq = "/usr/sbin/dnsmasq";
};

// dnsmasq processes that daemonize themselves (pid files in run_dir).
std::unique_ptr<Dhcp> make_dnsmasq(const DnsmasqPaths& paths);

// Files vmgw keeps per DHCP network (shared with `vmgw leases`), all in dhcp_dir().
std::string dhcp_dir(const std::string& state_dir);
std::string dhcp_hosts_path(const std::string& state_dir, const std::string& network);
std::string dhcp_events_path(const std::string& state_dir, const std::string& network);

class FakeDhcp : public Dhcp {
 public:
  std::string ensure(const DhcpServer& s) override;
  std::vector<std::string> stop_except(const std::vector<std::string>& keep) override;
  bool running(const std::string& network) override;
  bool trim_log(const std::string& network, uint64_t max_bytes) override;
  bool restore_hosts(const DhcpServer& s) override;
  std::vector<std::pair<std::string, std::string>> servers;  // network, hosts file
  std::map<std::string, uint64_t> log_bytes;                 // test input: a log's size
  std::vector<std::string> actions;
};

}  // namespace vmgw::backend
