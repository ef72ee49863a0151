#include "cli/daemon_commands.h"

#include <iostream>
#include <nlohmann/json.hpp>

#include "api/http.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/table.h"

namespace vmgw::cli {
namespace {

using Json = nlohmann::json;

void print_vms(const Json& list) {
  Table t({"NAME", "NETWORK", "MAC", "IP", "PORT", "ELASTIC IP", "FROM"});
  for (const auto& v : list)
    t.add({cell(v, "name"), cell(v, "network"), cell(v, "mac"), cell(v, "ip"), cell(v, "port"),
           cell(v, "elastic_ip"), v.contains("libvirt_domain") ? "libvirt" : "api"});
  t.print(std::cout);
}

void print_eips(const Json& list) {
  Table t({"ADDRESS", "POOL", "UPLINK", "VM"});
  for (const auto& e : list)
    t.add({cell(e, "address"), cell(e, "pool"), cell(e, "uplink"), cell(e, "vm")});
  t.print(std::cout);
}

// `vmgw status`: one call per part; -o json merges them into the status object.
int print_status(const DaemonOptions& o) {
  try {  // without vmgwd: what the kernel counts, and exit 3 (scripts wait on this for vmgwd)
    api::Request probe;
    probe.method = "GET";
    probe.path = "/v1/status";
    o.io->http(o.socket, probe);
  } catch (const std::exception&) {
    return o.io->kernel_status(o.output);
  }
  auto status = o.call("GET", "/v1/status");
  if (status.exit_code != kOk) return status.exit_code;
  Json all = status.body;
  for (const auto& [key, path] :
       {std::pair{"uplinks", "/v1/uplinks"}, std::pair{"networks", "/v1/networks"},
        std::pair{"vms", "/v1/vms"}, std::pair{"elastic_ips", "/v1/eips"},
        std::pair{"rules", "/v1/counters"}}) {
    auto r = o.call("GET", path);
    if (r.exit_code != kOk) return r.exit_code;
    all[key] = r.body;
  }
  if (o.output == "json") {
    std::cout << all.dump(2) << "\n";
    return kOk;
  }
  const Json& s = all;
  std::cout << "daemon:      running (vmgwd " << cell(s, "version") << ", pid " << cell(s, "pid")
            << ")\n"
            << "generation:  " << cell(s, "generation") << "\n"
            << "last apply:  " << cell(s, "last_apply") << "\n"
            << "config:      " << cell(s, "config") << "\n";
  for (const auto& [k, v] : s["dhcp"].items())
    std::cout << "dhcp " << k << ": " << v.get<std::string>() << "\n";
  // Following libvirt: connected or why not, and every domain interface it did not take.
  if (const Json& l = s.value("libvirt", Json()); l.is_object()) {
    std::cout << "libvirt:     " << cell(l, "uri") << ", "
              << (l.value("connected", false)
                      ? "connected, " + cell(l, "domains") + " domains with VMs"
                      : "not connected: " + cell(l, "error"))
              << "\n";
    for (const auto& r : l.value("refused", Json::array()))
      std::cout << "  refused: " << r.get<std::string>() << "\n";
  }
  std::cout << "\nuplinks:\n";
  Table up({"NAME", "DEVICE", "ADDRESS", "STATE", "CARRIES", "FLOWS"});
  for (const auto& u : s["uplinks"]) {
    std::string carries;
    for (const auto& c : u.value("carries", Json::array()))
      carries += (carries.empty() ? "" : ",") + c.get<std::string>();
    up.add({cell(u, "name"), cell(u, "device"), cell(u, "address"), cell(u, "state"),
            carries.empty() ? "-" : carries, cell(u, "flows")});
  }
  up.print(std::cout);
  std::cout << "\nnetworks:\n";
  Table nets({"NAME", "BRIDGE", "SUBNET", "DHCP", "VMS"});
  for (const auto& n : s["networks"])
    nets.add(
        {cell(n, "name"), cell(n, "bridge"), cell(n, "subnet"), cell(n, "dhcp"), cell(n, "vms")});
  nets.print(std::cout);
  std::cout << "\nvms: " << s["vms"].size() << "\n";
  Table vms({"NAME", "NETWORK", "IP", "ELASTIC IP", "FILTERS", "QUARANTINED"});
  for (const auto& v : s["vms"])
    vms.add({cell(v, "name"), cell(v, "network"), cell(v, "ip"), cell(v, "elastic_ip"),
             std::to_string(v.value("filters", Json::array()).size()),
             v.contains("quarantine") && !v["quarantine"].is_null() ? "yes" : "no"});
  vms.print(std::cout);
  std::cout << "\nelastic IPs: " << s["elastic_ips"].size() << "\n";
  print_eips(s["elastic_ips"]);
  std::cout << "\nrules (the gateway's own, with their counters):\n";
  Table rules({"CHAIN", "RULE", "PACKETS", "BYTES"});
  for (const auto& r : s["rules"])
    rules.add({cell(r, "chain"), cell(r, "rule"), cell(r, "packets"), cell(r, "bytes")});
  rules.print(std::cout);
  return kOk;
}

void print_forwards(const Json& list) {
  Table t({"PUBLIC", "PROTO", "TO"});
  for (const auto& f : list) t.add({cell(f, "public"), cell(f, "proto"), cell(f, "to")});
  t.print(std::cout);
}

void add_vm_commands(CLI::App& app, DaemonOptions& o, int& rc) {
  auto* vm =
      app.add_subcommand("vm", "VMs: reservations, per-VM chains, elastic IP and forward targets");
  vm->require_subcommand(1);
  auto req = std::make_shared<Json>(Json::object());
  auto name = std::make_shared<std::string>();
  auto* add =
      vm->add_subcommand("add", "declare a VM: DHCP reservation, NAT target, per-VM chains");
  add->add_option("name", *name, "VM name")->required();
  auto network = std::make_shared<std::string>(), mac = std::make_shared<std::string>(),
       ip = std::make_shared<std::string>(), port = std::make_shared<std::string>();
  add->add_option("--network", *network, "network it is plugged into")->required();
  add->add_option("--mac", *mac, "its MAC address")->required();
  add->add_option("--ip", *ip, "its address (default: the next free one of the subnet)");
  add->add_option("--port", *port, "its bridge port device (tap/veth); needed with --filter");
  auto filters = std::make_shared<std::vector<std::string>>();
  auto params = std::make_shared<std::vector<std::string>>();
  add->add_option("--filter", *filters, "a filter to bind (repeatable), e.g. clean-traffic");
  add->add_option("--param", *params,
                  "NAME=VALUE for the filters' variables (repeatable; $IP and $MAC default to "
                  "the VM's)");
  auto eip_pool = std::make_shared<std::string>();
  CLI::Option* eip = add->add_option("--eip", *eip_pool,
                                     "also allocate an elastic IP (of POOL, default the first "
                                     "pool) and bind it, in the same transaction")
                         ->expected(0, 1);
  add->callback([&o, &rc, name, network, mac, ip, port, filters, params, eip, eip_pool] {
    Json body = {{"name", *name}, {"network", *network}, {"mac", *mac}};
    if (eip->count() > 0) body["eip"] = eip_pool->empty() ? Json(true) : Json(*eip_pool);
    if (!filters->empty()) {
      auto p = params_json(*params);
      if (!p) {
        rc = kInvalidInput;
        return;
      }
      body["filters"] = Json::array();
      for (const auto& f : *filters) body["filters"].push_back({{"filter", f}, {"params", *p}});
    }
    if (!ip->empty()) body["ip"] = *ip;
    if (!port->empty()) body["port"] = *port;
    rc = show(o.call("POST", "/v1/vms", body), o, [](const Json& v) {
      std::cout << "vm " << cell(v, "name") << " added: " << cell(v, "ip") << " (" << cell(v, "mac")
                << ") on " << cell(v, "network");
      if (v.contains("elastic_ip") && v["elastic_ip"].is_string())
        std::cout << ", elastic IP " << v["elastic_ip"].get<std::string>();
      std::cout << "\n";
    });
  });
  auto* set = vm->add_subcommand(
      "set",
      "change a VM's MAC, address or port in place; its filters, elastic IP and forwards stay");
  auto set_name = std::make_shared<std::string>(), set_mac = std::make_shared<std::string>(),
       set_ip = std::make_shared<std::string>();
  auto set_port = std::make_shared<std::optional<std::string>>();
  set->add_option("name", *set_name, "VM name")->required();
  set->add_option("--mac", *set_mac, "its new MAC address");
  set->add_option("--ip", *set_ip, "its new address (its flows from the old one are cut)");
  set->add_option_function<std::string>(
      "--port", [set_port](const std::string& p) { *set_port = p; },
      "its new bridge port device (\"\" for none)");
  set->callback([&o, &rc, set_name, set_mac, set_ip, set_port] {
    Json body = Json::object();
    if (!set_mac->empty()) body["mac"] = *set_mac;
    if (!set_ip->empty()) body["ip"] = *set_ip;
    if (*set_port) body["port"] = **set_port;
    rc = show(o.call("PATCH", "/v1/vms/" + api::percent_encode(*set_name), body), o,
              [](const Json& v) {
                std::cout << "vm " << cell(v, "name") << " set: " << cell(v, "ip") << " ("
                          << cell(v, "mac") << ") port " << cell(v, "port") << "\n";
              });
  });
  auto release = std::make_shared<bool>(false);
  auto* remove = vm->add_subcommand(
      "remove", "remove a VM; its elastic IPs are unbound in the same transaction");
  remove->add_option("name", *name, "VM name")->required();
  remove->add_flag("--release", *release, "also release its elastic IPs back to their pool");
  remove->callback([&o, &rc, name, release] {
    std::map<std::string, std::string> q;
    if (*release) q["release"] = "true";
    rc = show(o.call("DELETE", "/v1/vms/" + api::percent_encode(*name), std::nullopt, q), o,
              [](const Json& r) {
                std::cout << "vm " << cell(r["vm"], "name") << " removed";
                for (const auto& e : r["unbound"])
                  std::cout << "; elastic IP " << e.get<std::string>() << " unbound";
                for (const auto& e : r["released"])
                  std::cout << "; elastic IP " << e.get<std::string>() << " released";
                for (const auto& f : r["forwards_removed"])
                  std::cout << "; forward " << f.get<std::string>() << " removed";
                std::cout << "\n";
              });
  });
  vm->add_subcommand("list", "every VM")->callback([&o, &rc] {
    rc = show(o.call("GET", "/v1/vms"), o, print_vms);
  });
  auto* showc = vm->add_subcommand("show", "one VM");
  showc->add_option("name", *name, "VM name")->required();
  showc->callback([&o, &rc, name] {
    rc = show(o.call("GET", "/v1/vms/" + api::percent_encode(*name)), o, [](const Json& v) {
      for (const auto& [k, x] : v.items())
        std::cout << k << ": " << (x.is_string() ? x.get<std::string>() : x.dump()) << "\n";
    });
  });
}

void add_eip_commands(CLI::App& app, DaemonOptions& o, int& rc) {
  auto* eip = app.add_subcommand(
      "eip", "elastic IPs: allocate from a pool, bind 1:1 to a VM, move, release");
  eip->require_subcommand(1);
  auto pool = std::make_shared<std::string>(), address = std::make_shared<std::string>(),
       vm = std::make_shared<std::string>();
  auto* alloc = eip->add_subcommand(
      "allocate", "take an address from a pool (the first free one, or --address)");
  alloc->add_option("--pool", *pool, "pool name (default: the first pool)");
  alloc->add_option("--address", *address, "a specific address of the pool");
  alloc->callback([&o, &rc, pool, address] {
    Json body = Json::object();
    if (!pool->empty()) body["pool"] = *pool;
    if (!address->empty()) body["address"] = *address;
    rc = show(o.call("POST", "/v1/eips", body), o, [](const Json& e) {
      std::cout << "allocated " << cell(e, "address") << " from pool " << cell(e, "pool") << "\n";
    });
  });
  auto* bind = eip->add_subcommand(
      "bind", "bind (or move) an elastic IP to a VM: DNAT in, SNAT out, in one transaction");
  bind->add_option("eip", *address, "elastic IP")->required();
  bind->add_option("vm", *vm, "VM name")->required();
  bind->callback([&o, &rc, address, vm] {
    rc = show(
        o.call("POST", "/v1/eips/" + api::percent_encode(*address) + "/bind", Json{{"vm", *vm}}), o,
        [](const Json& e) {
          std::cout << cell(e, "address") << " bound to vm " << cell(e, "vm") << "\n";
        });
  });
  auto* unbind = eip->add_subcommand("unbind", "unbind an elastic IP (it stays allocated)");
  unbind->add_option("eip", *address, "elastic IP")->required();
  unbind->callback([&o, &rc, address] {
    rc = show(
        o.call("POST", "/v1/eips/" + api::percent_encode(*address) + "/unbind", Json::object()), o,
        [](const Json& e) { std::cout << cell(e, "address") << " unbound\n"; });
  });
  auto* rel = eip->add_subcommand("release", "give an unbound elastic IP back to its pool");
  rel->add_option("eip", *address, "elastic IP")->required();
  rel->callback([&o, &rc, address] {
    rc = show(o.call("DELETE", "/v1/eips/" + api::percent_encode(*address)), o,
              [](const Json& e) { std::cout << cell(e, "address") << " released\n"; });
  });
  eip->add_subcommand("list", "every allocated elastic IP")->callback([&o, &rc] {
    rc = show(o.call("GET", "/v1/eips"), o, print_eips);
  });
}

void add_forward_commands(CLI::App& app, DaemonOptions& o, int& rc) {
  auto* fwd =
      app.add_subcommand("forward", "port forwards: publish a VM service on a public address");
  fwd->require_subcommand(1);
  auto pub = std::make_shared<std::string>(), proto = std::make_shared<std::string>("tcp"),
       to = std::make_shared<std::string>();
  auto* add = fwd->add_subcommand("add", "forward public ADDRESS:PORT[-PORT] to VM:PORT");
  add->add_option("--public", *pub, "ADDRESS:PORT or ADDRESS:PORT-PORT")->required();
  add->add_option("--proto", *proto, "tcp or udp")->capture_default_str();
  add->add_option("--to", *to, "VM:PORT or VM:PORT-PORT")->required();
  add->callback([&o, &rc, pub, proto, to] {
    rc =
        show(o.call("POST", "/v1/forwards", Json{{"public", *pub}, {"proto", *proto}, {"to", *to}}),
             o, [](const Json& f) {
               std::cout << "forwarding " << cell(f, "public") << "/" << cell(f, "proto") << " to "
                         << cell(f, "to") << "\n";
             });
  });
  auto* rm = fwd->add_subcommand("remove", "stop forwarding ADDRESS:PORT");
  rm->add_option("--public", *pub, "ADDRESS:PORT (the first port of a range)")->required();
  rm->add_option("--proto", *proto, "tcp or udp")->capture_default_str();
  rm->callback([&o, &rc, pub, proto] {
    rc = show(o.call("DELETE", "/v1/forwards", std::nullopt, {{"public", *pub}, {"proto", *proto}}),
              o, [](const Json& f) {
                std::cout << "removed forward " << cell(f, "public") << "/" << cell(f, "proto")
                          << "\n";
              });
  });
  fwd->add_subcommand("list", "every port forward")->callback([&o, &rc] {
    rc = show(o.call("GET", "/v1/forwards"), o, print_forwards);
  });
}

void add_topology_commands(CLI::App& app, DaemonOptions& o, int& rc) {
  auto* net = app.add_subcommand("network", "VM networks and LANs (declared in the config file)");
  net->require_subcommand(1);
  net->add_subcommand("list", "every network")->callback([&o, &rc] {
    rc = show(o.call("GET", "/v1/networks"), o, [](const Json& list) {
      Table t({"NAME", "BRIDGE", "SUBNET", "GATEWAY", "DHCP", "LEASE", "AUTO RANGE", "VMS"});
      for (const auto& n : list)
        t.add({cell(n, "name"), cell(n, "bridge"), cell(n, "subnet"), cell(n, "gateway"),
               cell(n, "dhcp"), n.contains("lease_time") ? cell(n, "lease_time") + "s" : "-",
               cell(n, "range"), cell(n, "vms")});
      t.print(std::cout);
    });
  });
  auto* up = app.add_subcommand("uplink", "uplinks (declared in the config file)");
  up->require_subcommand(1);
  up->add_subcommand("list", "every uplink")->callback([&o, &rc] {
    rc = show(o.call("GET", "/v1/uplinks"), o, [](const Json& list) {
      Table t({"NAME", "DEVICE", "ADDRESS", "STATE", "RTT", "LOSS", "WEIGHT", "TIER", "CARRIES",
               "FLOWS", "SINCE", "WHY"});
      for (const auto& u : list) {
        std::string rtt =
            u.contains("rtt_ms") && u["rtt_ms"].is_number()
                ? std::to_string(static_cast<int>(u["rtt_ms"].get<double>() + 0.5)) + "ms"
                : "-";
        std::string loss =
            u.contains("loss")
                ? std::to_string(static_cast<int>(u["loss"].get<double>() * 100 + 0.5)) + "%"
                : "-";
        std::string carries;
        for (const auto& c : u.value("carries", Json::array()))
          carries += (carries.empty() ? "" : ",") + c.get<std::string>();
        std::string state = cell(u, "state");
        if (!u.value("carrier", true)) state += " (no carrier)";
        t.add({cell(u, "name"), cell(u, "device"), cell(u, "address"), state, rtt, loss,
               cell(u, "weight"), cell(u, "tier"), carries.empty() ? "-" : carries,
               cell(u, "flows"), cell(u, "last_change"), cell(u, "reason")});
      }
      t.print(std::cout);
    });
  });
  app.add_subcommand("status",
                     "the gateway at a glance: daemon, uplinks, networks, VMs, elastic IPs, and "
                     "the packets each of the gateway's rules counted")
      ->callback([&o, &rc] { rc = print_status(o); });
}

}  // namespace

void add_daemon_commands(CLI::App& app, DaemonOptions& o, int& rc) {
  add_vm_commands(app, o, rc);
  add_eip_commands(app, o, rc);
  add_forward_commands(app, o, rc);
  add_topology_commands(app, o, rc);
}

}  // namespace vmgw::cli
