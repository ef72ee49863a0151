// vmgw: declare the gateway, check it, see the plan, apply it, look at what is in force.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"

#ifndef VMGW_VERSION
#define VMGW_VERSION "0.0.0"
#endif

int main(int argc, char** argv) {
  using namespace vmgw::cli;
  CLI::App app{"vmgw: make this host the network gateway of its virtual machines"};
  app.require_subcommand(1);
  std::string file = "/etc/vmgw/vmgw.yaml";
  std::string output = "text";
  Dirs dirs;
  bool dry_run = false;

  auto add_file = [&](CLI::App* c) {
    c->add_option("-f,--file", file, "configuration file")->capture_default_str();
  };
  auto add_output = [&](CLI::App* c) {
    c->add_option("-o,--output", output, "output format")
        ->check(CLI::IsMember({"text", "json"}))
        ->capture_default_str();
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
  add_output(plan);
  auto* apply = app.add_subcommand(
      "apply", "make the kernel hold this configuration: one nftables transaction for the delta");
  add_file(apply);
  add_dirs(apply);
  apply->add_flag("--dry-run", dry_run,
                  "diff against the kernel and print the delta; change nothing");
  auto* show = app.add_subcommand("show", "the vmgw ruleset in force, with counters");
  add_output(show);
  auto* leases =
      app.add_subcommand("leases", "DHCP reservations and the lease events dnsmasq reported");
  add_dirs(leases);
  add_output(leases);
  auto* version = app.add_subcommand("version", "print the version");

  std::string network;
  std::vector<std::string> event_args;
  auto* lease_event = app.add_subcommand("lease-event", "called by dnsmasq (--dhcp-script)");
  lease_event->group("");  // hidden: not for operators
  lease_event->add_option("--state-dir", dirs.state);
  lease_event->add_option("--network", network)->required();
  lease_event->add_option("args", event_args);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kOk : kInvalidInput;
  }
  if (check->parsed()) return cmd_check(file);
  if (plan->parsed()) return cmd_plan(file, output);
  if (apply->parsed()) return cmd_apply(file, dirs, dry_run);
  if (show->parsed()) return cmd_show(output);
  if (leases->parsed()) return cmd_leases(dirs, output);
  if (lease_event->parsed()) return cmd_lease_event(dirs, network, event_args);
  if (version->parsed()) {
    std::cout << "vmgw " << VMGW_VERSION << "\n";
    return kOk;
  }
  return kInvalidInput;
}
