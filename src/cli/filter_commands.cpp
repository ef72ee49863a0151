// The filter verbs, in the style of virsh nwfilter-*: filter define/import/dumpxml/list/undefine/
// edit/stats; per VM: vm filter set, vm quarantine/unquarantine; and the visibility verbs log and
// trace. All are thin clients of vmgwd's API (docs/api.md).
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "api/http.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/daemon_commands.h"
#include "cli/filter_import.h"
#include "cli/table.h"

namespace vmgw::cli {
namespace {

using Json = nlohmann::json;

void print_defined(const Json& d) {
  std::cout << defined_text(d) << "\n";
}

void add_filter_verbs(CLI::App& app, DaemonOptions& o, int& rc) {
  auto* f = app.add_subcommand("filter", "per-VM filters: libvirt nwfilter XML, as virsh does");
  f->require_subcommand(1);
  auto arg = std::make_shared<std::string>();

  auto* define = f->add_subcommand("define", "define a filter from its XML (create or replace)");
  define->add_option("file", *arg, "nwfilter XML file")->required();
  define->callback([&o, &rc, arg] {
    auto xml = o.io->read_file(*arg);
    if (!xml) {
      rc = kInvalidInput;
      return;
    }
    rc = show(o.call("POST", "/v1/filters", Json{{"xml", *xml}}), o, print_defined);
  });

  auto paths = std::make_shared<std::vector<std::string>>();
  auto from_libvirt = std::make_shared<std::string>();
  auto* import = f->add_subcommand(
      "import",
      "define libvirt's filters: its files (a directory: its *.xml) or a running libvirt's "
      "(--libvirt URI), referenced ones first");
  import->add_option("path", *paths, "nwfilter XML file or directory (/etc/libvirt/nwfilter)");
  import->add_option("--libvirt", *from_libvirt,
                     "also every filter of the libvirt daemon at this URI (qemu:///system)");
  import->callback([&o, &rc, paths, from_libvirt] {
    if (paths->empty() && from_libvirt->empty()) {
      std::cerr << "error: path: give filter files or a directory, or --libvirt URI\n";
  rc = kInvalidInput;
  return;
}
std::vector<filter::FilterSource> sources;
for (const auto& p : *paths) {
  auto files = o.io->filter_files(p);
  if (!files) {
    rc = kInvalidInput;
    return;
  }
  for (const auto& file : *files) {
    auto xml = o.io->read_file(file);
    if (!xml) {
      rc = kInvalidInput;
      return;
    }
    sources.push_back({file, *xml});
  }
}
if (!from_libvirt->empty()) {
  auto filters = o.io->libvirt_filters(*from_libvirt);
  if (!filters) {
    rc = kEnvironment;  // libvirt cannot be reached, like the daemon
    return;
  }
  for (const auto& [name, xml] : *filters) sources.push_back({"libvirt:" + name, xml});
}
rc = import_filters(o, sources);
}  // namespace
);

auto* dump = f->add_subcommand("dumpxml", "print a filter's XML");
dump->add_option("name", *arg, "filter name")->required();
dump->callback([&o, &rc, arg] {
  auto r = o.call("GET", "/v1/filters/" + api::percent_encode(*arg));
  rc = r.exit_code;
  if (rc == kOk) std::cout << r.body.value("xml", "");
});

f->add_subcommand("list", "every filter: built-in and defined")->callback([&o, &rc] {
  rc = show(o.call("GET", "/v1/filters"), o, [](const Json& list) {
    Table t({"NAME", "CHAIN", "PRIORITY", "RULES", "REFS", "BUILTIN", "USED BY"});
    for (const auto& x : list) {
      std::string users;
      for (const auto& u : x["used_by"]) users += (users.empty() ? "" : ",") + u.get<std::string>();
      t.add({cell(x, "name"), cell(x, "chain"), cell(x, "priority"), cell(x, "rules"),
             cell(x, "references"),
             x.value("replaces_builtin", false) ? "replaced"
             : x.value("builtin", false)        ? "yes"
                                                : "no",
             users.empty() ? "-" : users});
    }
    t.print(std::cout);
  });
});

auto* undefine = f->add_subcommand("undefine", "remove a filter (refused while a VM uses it)");
undefine->add_option("name", *arg, "filter name")->required();
undefine->callback([&o, &rc, arg] {
  rc = show(o.call("DELETE", "/v1/filters/" + api::percent_encode(*arg)), o, print_defined);
});

auto* edit = f->add_subcommand("edit", "edit a filter in $EDITOR, then define it");
edit->add_option("name", *arg, "filter name")->required();
edit->callback([&o, &rc, arg] {
  auto r = o.call("GET", "/v1/filters/" + api::percent_encode(*arg));
  if ((rc = r.exit_code) != kOk) return;
  char path[] = "/tmp/vmgw-filter-XXXXXX.xml";
  int fd = ::mkstemps(path, 4);
  if (fd < 0) {
    std::cerr << "error: cannot create a temporary file\n";
    rc = kFailed;
    return;
  }
  std::string xml = r.body.value("xml", "");
  bool written = ::write(fd, xml.data(), xml.size()) == static_cast<ssize_t>(xml.size());
  ::close(fd);
  if (!written || !o.io->run_editor(path)) {
    std::cerr << "error: the editor failed; " << path << " keeps your text\n";
    rc = kFailed;
    return;
  }
  auto edited = o.io->read_file(path);
  if (!edited || *edited == xml) {
    std::cout << "filter " << *arg << " unchanged\n";
    ::unlink(path);
    return;
  }
  rc = show(o.call("POST", "/v1/filters", Json{{"xml", *edited}}), o, print_defined);
  if (rc == kOk) {
    ::unlink(path);
  } else {
    std::cerr << "your edit is kept in " << path << " (fix it and run vmgw filter define)\n";
  }
});

auto* stats = f->add_subcommand("stats", "per-rule counters of a VM's filters");
stats->add_option("vm", *arg, "VM name")->required();
stats->callback([&o, &rc, arg] {
  rc = show(o.call("GET", "/v1/vms/" + api::percent_encode(*arg) + "/filter-stats"), o,
            [](const Json& list) {
              Table t({"LAYER", "DIR", "PACKETS", "BYTES", "RULE", "SHARED BY"});
              for (const auto& s : list)
                t.add({cell(s, "layer"), cell(s, "direction"), cell(s, "packets"), cell(s, "bytes"),
                       cell(s, "rule"), cell(s, "shared_by")});
              t.print(std::cout);
            });
});
}  // namespace vmgw::cli

void add_vm_verbs(CLI::App& app, DaemonOptions& o, int& rc) {
  CLI::App* vm = app.get_subcommand("vm");
  auto name = std::make_shared<std::string>();
  auto filters = std::make_shared<std::vector<std::string>>();
  auto params = std::make_shared<std::vector<std::string>>();
  auto none = std::make_shared<bool>(false);

  auto* fcmd = vm->add_subcommand("filter", "a VM's filters");
  fcmd->require_subcommand(1);
  auto* set = fcmd->add_subcommand("set", "replace a VM's filters (one transaction)");
  set->add_option("name", *name, "VM name")->required();
  set->add_option("--filter", *filters, "a filter (repeatable; evaluated in this order)");
  set->add_option("--param", *params, "NAME=VALUE for the filters' variables (repeatable)");
  set->add_flag("--none", *none, "remove every filter");
  set->callback([&o, &rc, name, filters, params, none] {
    if (filters->empty() && !*none) {
      std::cerr << "error: --filter: give at least one filter, or --none\n";
      rc = kInvalidInput;
      return;
    }
    auto p = params_json(*params);
    if (!p) {
      rc = kInvalidInput;
      return;
    }
    Json list = Json::array();
    for (const auto& f : *filters) list.push_back({{"filter", f}, {"params", *p}});
    rc = show(o.call("PUT", "/v1/vms/" + api::percent_encode(*name) + "/filters",
                     Json{{"filters", list}}),
              o, [&](const Json&) {
                std::cout << "vm " << *name << ": "
                          << (filters->empty() ? std::string("no filters")
                                               : std::to_string(filters->size()) + " filter(s)")
                          << " in force\n";
              });
  });

  auto allow = std::make_shared<std::vector<std::string>>();
  auto* q = vm->add_subcommand("quarantine",
                               "cut all of a VM's traffic except management sources; its "
                               "established flows are deleted");
  q->add_option("name", *name, "VM name")->required();
  q->add_option("--allow-from", *allow, "management source address or CIDR (repeatable)");
  q->callback([&o, &rc, name, allow] {
    rc = show(o.call("POST", "/v1/vms/" + api::percent_encode(*name) + "/quarantine",
                     Json{{"allow_from", *allow}}),
              o, [&](const Json& r) {
                std::cout << "vm " << *name << " quarantined; " << cell(r, "flows_cut")
                          << " flows cut\n";
              });
  });
  auto* uq = vm->add_subcommand("unquarantine", "restore a quarantined VM's traffic");
  uq->add_option("name", *name, "VM name")->required();
  uq->callback([&o, &rc, name] {
    rc = show(o.call("DELETE", "/v1/vms/" + api::percent_encode(*name) + "/quarantine"), o,
              [&](const Json&) { std::cout << "vm " << *name << " released from quarantine\n"; });
  });
}

void add_visibility_verbs(CLI::App& app, DaemonOptions& o, int& rc) {
  auto vm = std::make_shared<std::string>();
  auto follow = std::make_shared<bool>(false);
  auto limit = std::make_shared<int>(50);
  auto* log = app.add_subcommand("log", "packets dropped or logged by vmgw's rules");
  log->add_option("--vm", *vm, "only this VM's packets");
  log->add_flag("-f,--follow", *follow, "keep printing new entries");
  log->add_option("-n,--limit", *limit, "how many recent entries")->capture_default_str();
  auto seconds = std::make_shared<int>(0);
  log->add_option("--for", *seconds,
                  "without vmgwd: follow the kernel's log this many seconds (0: until stopped)");
  log->callback([&o, &rc, vm, follow, limit, seconds] {
    // Without vmgwd nobody keeps the log: follow what the kernel logs from now on.
    try {
      api::Request probe;
      probe.method = "GET";
      probe.path = "/v1/status";
      o.io->http(o.socket, probe);
    } catch (const std::exception&) {
      rc = o.io->follow_kernel_log(*seconds, o.output);
      return;
    }
    std::map<std::string, std::string> q{{"limit", std::to_string(*limit)}};
    if (!vm->empty()) q["vm"] = *vm;
    auto r = o.call("GET", "/v1/log", std::nullopt, q);
    if ((rc = r.exit_code) != kOk) return;
    print_log(r.body["entries"], o.output);
    // On stderr: stdout stays one entry per line.
    if (uint64_t n = r.body.value("suppressed", uint64_t{0}); n > 0 && o.output != "json")
      std::cerr << n
                << " packets were not logged (over host.drop_log) since the rules were "
                   "created\n";
    uint64_t last = r.body.value("last_seq", uint64_t{0});
    while (*follow) {
      o.io->pause_between_polls();
      q["after"] = std::to_string(last);
      q["limit"] = "1000";
      r = o.call("GET", "/v1/log", std::nullopt, q);
      if ((rc = r.exit_code) != kOk) return;
      print_log(r.body["entries"], o.output);
      last = r.body.value("last_seq", last);
    }
  });

  auto body = std::make_shared<Json>(Json::object());
  auto s = std::make_shared<std::map<std::string, std::string>>();
  auto n = std::make_shared<std::map<std::string, int>>();
  auto* trace = app.add_subcommand(
      "trace", "which rule decides a packet: the VM's filters, quarantine, the gateway's policy");
  trace->add_option("--vm", (*s)["vm"], "the VM")->required();
  trace->add_option("--dir", (*s)["direction"], "out (sent by the VM) or in (sent to it)")
      ->required();
  trace->add_option("--proto", (*s)["proto"], "tcp, udp, icmp, sctp, udplite, igmp, esp, ah, arp")
      ->required();
  trace->add_option("--src", (*s)["src"], "source address (default for out: the VM's)");
  trace->add_option("--dst", (*s)["dst"], "destination address (default for in: the VM's)");
  trace->add_option("--sport", (*n)["sport"], "source port");
  trace->add_option("--dport", (*n)["dport"], "destination port");
  trace->add_option("--icmp-type", (*n)["icmp_type"], "ICMP type (8: echo request)");
  trace->add_option("--state", (*s)["state"], "new (default), established or related");
  trace->callback([&o, &rc, s, n, trace] {
    Json b = Json::object();
    for (const auto& [k, v] : *s)
      if (!v.empty()) b[k] = v;
    for (const char* k : {"sport", "dport", "icmp_type"}) {
      std::string opt = std::string("--") + (std::string(k) == "icmp_type" ? "icmp-type" : k);
      if (trace->count(opt) > 0) b[k] = (*n)[k];
    }
    rc = show(o.call("POST", "/v1/trace", b), o, [](const Json& t) {
      for (const auto& step : t["steps"]) std::cout << "  " << step.get<std::string>() << "\n";
      std::cout << "verdict: " << cell(t, "verdict") << " (decided by " << cell(t, "decided_by")
                << ")\n";
    });
  });
}

}  // namespace vmgw::cli

void add_filter_commands(CLI::App& app, DaemonOptions& opts, int& rc) {
  add_filter_verbs(app, opts, rc);
  add_vm_verbs(app, opts, rc);
  add_visibility_verbs(app, opts, rc);
}

}  // namespace vmgw::cli
