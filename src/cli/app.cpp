// The command line of `vmgw`: global options, the verbs, and which one runs.
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/unix_client.h"
#include "backend/hypervisor.h"
#include "cli/commands.h"
#include "cli/daemon_commands.h"
#include "cli/io.h"

#ifndef VMGW_VERSION
#define VMGW_VERSION "0.0.0"
#endif

namespace vmgw::cli {

CliIo real_io() {
  CliIo io;
  io.http = [](const std::string& socket, const api::Request& r) {
    return api::http_call(socket, r);
  };
  io.read_file = [](const std::string& path) -> std::optional<std::string> {
    // Filters are small; anything bigger than the API accepts in one request is a mistake
    // (or /dev/zero), refused before reading it all.
    std::ifstream in(path, std::ios::binary);
    std::string text;
    if (in) {
      text.resize(api::kMaxBodyBytes + 1);
      in.read(text.data(), static_cast<std::streamsize>(text.size()));
      text.resize(static_cast<size_t>(in.gcount()));
    }
    if (!in && !in.eof()) {
      std::cerr << "error: cannot read " << path << "\n";
      return std::nullopt;
    }
    if (text.size() > api::kMaxBodyBytes) {
      std::cerr << "error: " << path << ": larger than " << api::kMaxBodyBytes
                << " bytes, the most the daemon accepts\n";
      return std::nullopt;
    }
    return text;
  };
  io.libvirt_filters = [](const std::string& uri)
      -> std::optional<std::vector<std::pair<std::string, std::string>>> {
    try {
      auto libvirt = backend::make_libvirt_hypervisor(uri);
      libvirt->connect();
      return libvirt->filters();
    } catch (const backend::HypervisorError& e) {
      std::cerr << "error: " << e.what() << "\n";
      return std::nullopt;
    }
  };
  io.filter_files = [](const std::string& path) -> std::optional<std::vector<std::string>> {
    std::error_code ec;
    if (!std::filesystem::is_directory(path, ec)) return std::vector<std::string>{path};
    std::vector<std::string> files;
    for (const auto& e : std::filesystem::directory_iterator(path, ec))
      if (e.path().extension() == ".xml" && !e.is_directory()) files.push_back(e.path().string());
    if (ec) {
      std::cerr << "error: cannot list " << path << ": " << ec.message() << "\n";
      return std::nullopt;
    }
    std::sort(files.begin(), files.end());
    return files;
  };
  io.run_editor = [](const std::string& path) {
    const char* editor = std::getenv("VISUAL") ? std::getenv("VISUAL") : std::getenv("EDITOR");
    // `path` is a mkstemps name of our own (no quote in it); the editor may carry arguments.
    std::string cmd = std::string(editor ? editor : "vi") + " '" + path + "'";
    return std::system(cmd.c_str()) == 0;
  };
  io.pause_between_polls = [] { std::this_thread::sleep_for(std::chrono::milliseconds(250)); };
  io.check = cmd_check;
  io.plan = cmd_plan;
  io.apply = cmd_apply;
  io.down = cmd_down;
  io.follow_kernel_log = cmd_log_kernel;
  io.kernel_status = cmd_status_kernel;
  io.show = cmd_show;
  io.leases = cmd_leases;
  io.lease_event = cmd_lease_event;
  return io;
}

int run_cli(int argc, const char* const* argv, const CliIo& io) {
  CLI::App app{"vmgw: make this host the network gateway of its virtual machines"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (-o, --socket) may follow the verb
  std::string file = "/etc/vmgw/vmgw.yaml";
  DaemonOptions opts;
  opts.io = &io;
  std::string& output = opts.output;
  Dirs dirs;
  int rc = kOk;
  app.add_option("-o,--output", output, "output format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--socket", opts.socket, "vmgwd's API socket")->capture_default_str();
  // As vmgwd --version (and the `version` verb): what a package or a script asks first.
  app.set_version_flag("--version", std::string("vmgw ") + VMGW_VERSION, "print the version");
  bool dry_run = false;

  auto add_file = [&](CLI::App* c) {
    c->add_option("-f,--file", file, "configuration file")->capture_default_str();
  };
  auto add_dirs = [&](CLI::App* c) {
    c->add_option("--state-dir", dirs.state, "DHCP hosts files and lease events")
        ->capture_default_str();
    c->add_option("--run-dir", dirs.run, "pid files and hooks")->capture_default_str();
  };

  auto* check =
      app.add_subcommand("check", "validate a configuration file; exit 1 with every error located");
  add_file(check);
  auto* plan =
      app.add_subcommand("plan", "print what apply would make the host hold (no root, no kernel)");
  add_file(plan);
  auto* apply = app.add_subcommand(
      "apply", "make the kernel hold this configuration: one nftables transaction for the delta");
  add_file(apply);
  add_dirs(apply);
  apply->add_flag("--dry-run", dry_run,
                  "diff against the kernel and print the delta; change nothing");
  auto* down = app.add_subcommand(
      "down", "remove everything vmgw made: its tables, addresses, routes, bridges, dnsmasq");
  add_dirs(down);
  down->add_flag("--dry-run", dry_run, "print what would be removed; change nothing");
  auto* show = app.add_subcommand("show", "the vmgw ruleset in force, with counters");
  auto* leases =
      app.add_subcommand("leases", "DHCP reservations and the lease events dnsmasq reported");
  add_dirs(leases);
  auto* version = app.add_subcommand("version", "print the version");
  add_daemon_commands(app, opts, rc);
  add_filter_commands(app, opts, rc);

  std::string network;
  std::vector<std::string> event_args;
  auto* lease_event = app.add_subcommand("lease-event", "called by dnsmasq (--dhcp-script)");
  lease_event->group("");  // hidden: not for operators
  lease_event->add_option("--state-dir", dirs.state);
  std::string event_socket;
  lease_event->add_option("--socket", event_socket);
  lease_event->add_option("--network", network)->required();
  lease_event->add_option("args", event_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? kOk : kInvalidInput;
  } catch (const nlohmann::json::exception& e) {
    // The daemon answered with something this CLI cannot read (a different version?).
    std::cerr << "error: unexpected answer from vmgwd: " << e.what() << "\n";
    return kFailed;
  }
  if (check->parsed()) return io.check(file);
  if (plan->parsed()) return io.plan(file, output);
  if (apply->parsed()) return io.apply(file, dirs, dry_run);
  if (down->parsed()) return io.down(dirs, opts.socket, dry_run);
  if (show->parsed()) return io.show(output);
  if (leases->parsed()) return io.leases(dirs, output, opts.socket);
  if (lease_event->parsed()) return io.lease_event(dirs, event_socket, network, event_args);
  if (version->parsed()) {
    std::cout << "vmgw " << VMGW_VERSION << "\n";
    return kOk;
  }
  return rc;  // set by the daemon verbs' callbacks
}

}  // namespace vmgw::cli
