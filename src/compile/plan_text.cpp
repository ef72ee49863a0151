#include "compile/plan_text.h"

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

std::string route_text(const PlannedRoute& r) {
  std::string dst = r.destination.prefix == 0 ? "default" : r.destination.str();
  return dst + " via " + r.gateway.str() + " dev " + r.device + " metric " +
         std::to_string(r.metric);
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
       << " reservations only, router " << d.gateway.str();
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
  for (const auto& r : p.routes)
    j["routes"].push_back({{"destination", r.destination.str()},
                           {"gateway", r.gateway.str()},
                           {"device", r.device},
                           {"metric", r.metric}});
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
                         {"reservations", hosts}});
  }
  return j;
}

}  // namespace vmgw
