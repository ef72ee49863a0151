#include "compile/plan_text.h"

#include <cstdio>
#include <sstream>

#include "nft/text.h"

namespace vmgw {
namespace {

std::string sysctl_name(const std::string& key) {
  std::string s = key;
  for (auto& c : s)
    if (c == '/') c = '.';
  return s;
}

std::string table_name(uint32_t table) {
  return table == 254 ? "main" : std::to_string(table);
}

std::string route_text(const PlannedRoute& r) {
  std::string dst = r.destination.prefix == 0 ? "default" : r.destination.str();
  std::string s = r.unreachable ? "unreachable " + dst : dst + " nhid " + std::to_string(r.nexthop);
  s += " table " + table_name(r.table);
  if (r.metric != 0) s += " metric " + std::to_string(r.metric);
  return s;
}

std::string nexthop_text(const PlannedNexthop& n) {
  std::string s = "id " + std::to_string(n.id);
  if (!n.members.empty()) {
    s += " group ";
    for (size_t i = 0; i < n.members.size(); ++i) {
      s += (i ? "/" : "") + std::to_string(n.members[i].first);
      if (n.members[i].second != 1) s += "," + std::to_string(n.members[i].second);
    }
  } else {
    if (n.gateway) s += " via " + n.gateway->str();
    s += " dev " + n.device;
  }
  return s + "   (" + n.purpose + ")";
}

std::string hex_mark(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

std::string rule_text(const PlannedRule& r) {
  std::string s = std::to_string(r.priority) + ": from " + (r.from ? r.from->str() : "all");
  if (r.fwmask != 0) s += " fwmark " + hex_mark(r.fwmark) + "/" + hex_mark(r.fwmask);
  s += " lookup " + table_name(r.table);
  if (r.skip_default_routes) s += " suppress_prefixlength 0";
  return s + "   (" + r.purpose + ")";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s.empty() ? "-" : s;
}

std::string path_text(const PlannedPath& p) {
  std::string who = p.network.empty() ? "the host" : "network " + p.network + " " + p.subnet->str();
  std::string s = who + ": " + std::string(to_string(p.mode)) + " over " + join(p.candidates) +
                  "; now " + join(p.active);
  s += p.group != 0 ? " (group " + std::to_string(p.group) + ", table " + table_name(p.table) + ")"
                    : " (no uplink usable: unreachable)";
  if (!p.network.empty()) s += ", failback " + std::string(to_string(p.failback));
  return s;
}

}  // namespace

std::string plan_text(const Plan& p) {
  std::ostringstream os;
  os << "# nftables: both tables applied as one transaction\n"
     << nft::table_text(p.table) << "\n"
     << nft::table_text(p.bridge_table);
  os << "\n# links\n";
  for (const auto& b : p.bridges) os << "bridge " << b.name << " (created if missing), up\n";
  for (const auto& port : p.ports)
    os << "port " << port.device << " -> " << port.bridge << " (when present)\n";
  os << "\n# addresses\n";
  for (const auto& a : p.addresses) os << a.device << " " << a.address.str() << "\n";
  for (const auto& m : p.managed_ranges)
    os << m.device << " owns " << m.first.str() << "-" << m.last.str() << " (others removed)\n";
  os << "\n# uplinks\n";
  for (const auto& u : p.uplinks) {
    os << u.name << " " << u.device << " " << u.address.str();
    if (u.gateway) os << " via " << u.gateway->str();
    os << ": weight " << u.weight << ", tier " << u.tier << ", mark " << hex_mark(u.mark)
       << ", table " << u.table
       << (u.carrier ? u.alive ? "" : " (probes unanswered)" : " (no carrier)") << "\n";
  }
  os << "\n# paths\n";
  for (const auto& path : p.paths) os << path_text(path) << "\n";
  os << "\n# nexthops\n";
  for (const auto& n : p.nexthops) os << nexthop_text(n) << "\n";
  os << "\n# rules\n";
  for (const auto& r : p.rules) os << rule_text(r) << "\n";
  os << "\n# routes\n";
  for (const auto& r : p.routes) os << route_text(r) << "\n";
  os << "\n# sysctls\n";
  for (const auto& s : p.sysctls) {
    if (s.at_least)
      os << sysctl_name(s.key) << " >= " << s.value << " (raised, never lowered; host-wide)\n";
    else
      os << sysctl_name(s.key) << " = " << s.value << (s.if_present ? " (if present)" : "") << "\n";
  }
  os << "\n# dhcp\n";
  for (const auto& d : p.dhcp) {
    os << "dnsmasq for " << d.network << " on " << d.interface << ": " << d.subnet.str()
       << " reservations only, router " << d.gateway.str() << ", leases of " << d.lease_time
       << " s";
    for (const auto& dns : d.dns_servers) os << ", dns " << dns.str();
    os << "\n";
    for (const auto& r : d.reservations)
      os << "  " << r.mac.str() << " " << r.ip.str() << " " << r.name << "\n";
  }
  return os.str();
}

nft::Json plan_json(const Plan& p) {
  using nft::Json;
  Json j;
  j["nftables"] = nft::create_all_cmds(p.table);
  for (auto& cmd : nft::create_all_cmds(p.bridge_table)) j["nftables"].push_back(std::move(cmd));
  j["bridges"] = Json::array();
  for (const auto& b : p.bridges) j["bridges"].push_back(b.name);
  j["ports"] = Json::array();
  for (const auto& port : p.ports)
    j["ports"].push_back({{"device", port.device}, {"bridge", port.bridge}});
  j["addresses"] = Json::array();
  for (const auto& a : p.addresses)
    j["addresses"].push_back({{"device", a.device}, {"address", a.address.str()}});
  j["managed_ranges"] = Json::array();
  for (const auto& m : p.managed_ranges)
    j["managed_ranges"].push_back(
        {{"device", m.device}, {"first", m.first.str()}, {"last", m.last.str()}});
  j["routes"] = Json::array();
  for (const auto& r : p.routes) {
    Json route = {{"destination", r.destination.str()}, {"table", r.table}, {"metric", r.metric}};
    if (r.unreachable)
      route["type"] = "unreachable";
    else
      route["nexthop"] = r.nexthop;
    j["routes"].push_back(route);
  }
  j["nexthops"] = Json::array();
  for (const auto& n : p.nexthops) {
    Json nh = {{"id", n.id}, {"purpose", n.purpose}};
    if (n.members.empty()) {
      nh["device"] = n.device;
      if (n.gateway) nh["gateway"] = n.gateway->str();
    } else {
      nh["group"] = Json::array();
      for (const auto& [id, weight] : n.members)
        nh["group"].push_back({{"id", id}, {"weight", weight}});
    }
    j["nexthops"].push_back(nh);
  }
  j["rules"] = Json::array();
  for (const auto& r : p.rules) {
    Json rule = {{"priority", r.priority}, {"table", r.table}, {"purpose", r.purpose}};
    if (r.from) rule["from"] = r.from->str();
    if (r.fwmask != 0) rule["fwmark"] = hex_mark(r.fwmark) + "/" + hex_mark(r.fwmask);
    if (r.skip_default_routes) rule["suppress_prefixlength"] = 0;
    j["rules"].push_back(rule);
  }
  j["uplinks"] = Json::array();
  for (const auto& u : p.uplinks)
    j["uplinks"].push_back({{"name", u.name},
                            {"device", u.device},
                            {"address", u.address.str()},
                            {"weight", u.weight},
                            {"tier", u.tier},
                            {"mark", hex_mark(u.mark)},
                            {"table", u.table},
                            {"carrier", u.carrier},
                            {"alive", u.alive}});
  j["paths"] = Json::array();
  for (const auto& path : p.paths) {
    Json pj = {{"network", path.network},       {"mode", to_string(path.mode)},
               {"candidates", path.candidates}, {"active", path.active},
               {"table", path.table},           {"group", path.group}};
    if (!path.network.empty()) pj["failback"] = to_string(path.failback);
    j["paths"].push_back(pj);
  }
  j["sysctls"] = Json::object();
  for (const auto& s : p.sysctls) j["sysctls"][sysctl_name(s.key)] = s.value;
  j["dhcp"] = Json::array();
  for (const auto& d : p.dhcp) {
    Json hosts = Json::array();
    for (const auto& r : d.reservations)
      hosts.push_back({{"mac", r.mac.str()}, {"ip", r.ip.str()}, {"name", r.name}});
    Json dns = Json::array();
    for (const auto& x : d.dns_servers) dns.push_back(x.str());
    j["dhcp"].push_back({{"network", d.network},
                         {"interface", d.interface},
                         {"subnet", d.subnet.str()},
                         {"router", d.gateway.str()},
                         {"dns_servers", dns},
                         {"lease_time", d.lease_time},
                         {"reservations", hosts}});
  }
  return j;
}

}  // namespace vmgw
