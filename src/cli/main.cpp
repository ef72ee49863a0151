// vmgw: declare the gateway, check it, see the plan, apply it, look at what is in force.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/daemon_commands.h"

#ifndef VMGW_VERSION
#define VMGW_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace vmgw::cli;
  CLI::App app{"vmgw: make this host the network gateway of its virtual machines"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (-o, --socket) may follow the verb
  std::string file = "/etc/vmgw/vmgw.yaml";
  DaemonOptions opts;
  std::string& output = opts.output;
  Dirs dirs;
  int rc = kOk;
  app.add_option("-o,--output", output, "output format: text or json")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  app.add_option("--socket", opts.socket, "vmgwd's API socket")->capture_default_str();
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
  }
  if (check->parsed()) return cmd_check(file);
  if (plan->parsed()) return cmd_plan(file, output);
  if (apply->parsed()) return cmd_apply(file, dirs, dry_run);
  if (show->parsed()) return cmd_show(output);
  if (leases->parsed()) return cmd_leases(dirs, output, opts.socket);
  if (lease_event->parsed()) return cmd_lease_event(dirs, event_socket, network, event_args);
  if (version->parsed()) {
    std::cout << "vmgw " << VMGW_VERSION << "\n";
    return kOk;
  }
  return rc;  // set by the daemon verbs' callbacks
}
