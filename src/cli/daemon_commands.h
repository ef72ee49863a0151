// The verbs that talk to vmgwd: vm, eip, forward, network, uplink, status.
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "cli/client.h"
#include "cli/io.h"

namespace vmgw::cli {

struct DaemonOptions {
  std::string socket = "/run/vmgw/vmgw.sock";
  std::string output = "text";
  const CliIo* io = nullptr;  // set by run_cli

  // One API call through `io`.
  ApiResult call(const std::string& method, const std::string& path,
                 const std::optional<nlohmann::json>& body = std::nullopt,
                 const std::map<std::string, std::string>& query = {}) const {
    return api_call(io->http, socket, method, path, body, query);
  }
};

// show() with the output format of `o`.
inline int show(const ApiResult& r, const DaemonOptions& o,
                const std::function<void(const nlohmann::json&)>& human) {
  return show(r, o.output, human);
}

// Adds the subcommands to `app`; each sets `rc` to its exit code when it runs.
void add_daemon_commands(CLI::App& app, DaemonOptions& opts, int& rc);
// filter, vm filter/quarantine/unquarantine, log, trace (after add_daemon_commands).
void add_filter_commands(CLI::App& app, DaemonOptions& opts, int& rc);

}  // namespace vmgw::cli
