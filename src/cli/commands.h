// The verbs of `vmgw`. Each returns the process exit code (see ExitCode).
#pragma once

#include <string>
#include <vector>

namespace vmgw::cli {

enum ExitCode : int {
  kOk = 0,
  kInvalidInput = 1,   // the configuration or arguments are wrong; nothing was changed
  kKernelRefused = 2,  // the kernel refused the change; the previous state is in force
  kEnvironment = 3,    // the host cannot take it (not root, a device missing); nothing changed
  kFailed = 4,         // a later step failed; re-running apply resumes
  kNotFound = 5,       // the daemon has no such object
  kConflict = 6,       // the daemon refused a conflicting change (address in use, pool exhausted)
  kForbidden = 7,      // the daemon refused the client: no access, or read-only access (HTTP 403)
};

struct Dirs {
  std::string state = "/var/lib/vmgw";
  std::string run = "/run/vmgw";
};

int cmd_check(const std::string& file);
int cmd_plan(const std::string& file, const std::string& output);
int cmd_apply(const std::string& file, const Dirs& dirs, bool dry_run);
// Removes everything vmgw made on this host (apply/down.h); refuses while vmgwd answers at
// `socket`.
int cmd_down(const Dirs& dirs, const std::string& socket, bool dry_run);
int cmd_show(const std::string& output);
// `vmgw log` without vmgwd: binds the kernel's log group (NFLOG 7) and prints what vmgw's rules
// log from now on, for `seconds` (0: until interrupted). Root only; no VM names, no history.
int cmd_log_kernel(int seconds, const std::string& output);
// `vmgw status` without vmgwd: says so on stderr, prints the gateway's counted rules as the
// kernel holds them (vmgw apply alone), and returns kEnvironment: the daemon is not running.
int cmd_status_kernel(const std::string& output);
// From the daemon when its socket exists, else from the state dir `vmgw apply` writes.
int cmd_leases(const Dirs& dirs, const std::string& output, const std::string& socket);
// Called by dnsmasq through the generated hook: ACTION MAC IP [HOSTNAME]. Reports to the daemon
// when `socket` is set (falling back to the state dir if it does not answer).
int cmd_lease_event(const Dirs& dirs, const std::string& socket, const std::string& network,
                    const std::vector<std::string>& args);

}  // namespace vmgw::cli
