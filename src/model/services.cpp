#include "model/services.h"

#include <array>

namespace vmgw {
namespace {

struct Service {
  std::string_view name;
  uint16_t port;
  bool tcp, udp;
};

// IANA's assignments for what hosts and gateways commonly open.
constexpr std::array<Service, 34> kServices{{
    {"ftp", 21, true, false},          {"ssh", 22, true, false},
    {"telnet", 23, true, false},       {"smtp", 25, true, false},
    {"dns", 53, true, true},           {"domain", 53, true, true},
    {"dhcp", 67, false, true},         {"tftp", 69, false, true},
    {"http", 80, true, false},         {"kerberos", 88, true, true},
    {"pop3", 110, true, false},        {"ntp", 123, false, true},
    {"imap", 143, true, false},        {"snmp", 161, false, true},
    {"bgp", 179, true, false},         {"ldap", 389, true, false},
    {"https", 443, true, true},        {"syslog", 514, false, true},
    {"submission", 587, true, false},  {"ldaps", 636, true, false},
    {"rsync", 873, true, false},       {"imaps", 993, true, false},
    {"pop3s", 995, true, false},       {"openvpn", 1194, true, true},
    {"mysql", 3306, true, false},      {"rdp", 3389, true, true},
    {"sip", 5060, true, true},         {"postgresql", 5432, true, false},
    {"vnc", 5900, true, false},        {"redis", 6379, true, false},
    {"irc", 6667, true, false},        {"http-alt", 8080, true, false},
    {"prometheus", 9090, true, false}, {"wireguard", 51820, false, true},
}};

}  // namespace

std::optional<uint16_t> service_port(std::string_view name, Proto proto) {
  for (const auto& s : kServices)
    if (s.name == name && (proto == Proto::tcp ? s.tcp : s.udp)) return s.port;
  return std::nullopt;
}

std::string service_elsewhere(std::string_view name, Proto proto) {
  for (const auto& s : kServices)
    if (s.name == name && !(proto == Proto::tcp ? s.tcp : s.udp))
      return std::string(proto == Proto::tcp ? "udp/" : "tcp/") + std::to_string(s.port);
  return "";
}

std::string service_names() {
  std::string out;
  for (const auto& s : kServices) out += (out.empty() ? "" : ", ") + std::string(s.name);
  return out;
}

}  // namespace vmgw
