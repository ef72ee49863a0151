// leases (what the operator reads) and lease-event (what dnsmasq's hook calls).
#include <sys/stat.h>

#include <cstdio>
#include <ctime>
#include <iomanip>
#include <iostream>
#include <nlohmann/json.hpp>

#include "apply/leases.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "model/lease_event.h"
#include "model/net.h"

namespace vmgw::cli {
namespace {

// True if something listens on `socket` (a daemon is running).
bool daemon_answers(const std::string& socket) {
  struct stat st {};
  return ::stat(socket.c_str(), &st) == 0 && S_ISSOCK(st.st_mode);
}

// What a guest or an old file put in a field, safe for a terminal: bytes outside printable ASCII
// as \xNN (an escape sequence in a hostname must not drive the operator's terminal).
std::string printable(const std::string& s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out += static_cast<char>(c);
    } else {
      char buf[5];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    }
  }
  return out;
}

std::string now_utc() {
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

int cmd_leases(const Dirs& dirs, const std::string& output, const std::string& socket) {
  std::vector<Reservation> reservations;
  std::vector<LeaseEvent> events;
  if (daemon_answers(socket)) {
    auto r = api_call(socket, "GET", "/v1/leases");
    if (r.exit_code != kOk) return r.exit_code;
    for (const auto& x : r.body["reservations"])
      reservations.push_back(
          {x.value("network", ""), x.value("mac", ""), x.value("ip", ""), x.value("name", "")});
    for (const auto& e : r.body["events"])
      events.push_back({e.value("time", ""), e.value("network", ""), e.value("action", ""),
                        e.value("mac", ""), e.value("ip", ""), e.value("hostname", "")});
  } else {
    reservations = read_reservations(dirs.state);
    events = read_lease_events(dirs.state);
  }
  if (output == "json") {
    nlohmann::json j = {{"reservations", nlohmann::json::array()},
                        {"events", nlohmann::json::array()}};
    for (const auto& r : reservations)
      j["reservations"].push_back(
          {{"network", r.network}, {"mac", r.mac}, {"ip", r.ip}, {"name", r.name}});
    for (const auto& e : events)
      j["events"].push_back({{"time", e.time},
                             {"network", e.network},
                             {"action", e.action},
                             {"mac", e.mac},
                             {"ip", e.ip},
                             {"hostname", e.hostname}});
    std::cout << j.dump(2) << "\n";
    return kOk;
  }
  std::cout << "RESERVATIONS\n";
  std::cout << std::left << std::setw(12) << "NETWORK" << std::setw(20) << "MAC" << std::setw(17)
            << "IP"
            << "NAME\n";
  for (const auto& r : reservations)
    std::cout << std::setw(12) << printable(r.network) << std::setw(20) << printable(r.mac)
              << std::setw(17) << printable(r.ip) << printable(r.name) << "\n";
  std::cout << "\nLEASE EVENTS\n";
  std::cout << std::setw(22) << "TIME" << std::setw(12) << "NETWORK" << std::setw(7) << "EVENT"
            << std::setw(20) << "MAC" << std::setw(17) << "IP"
            << "HOSTNAME\n";
  for (const auto& e : events)
    std::cout << std::setw(22) << printable(e.time) << std::setw(12) << printable(e.network)
              << std::setw(7) << printable(e.action) << std::setw(20) << printable(e.mac)
              << std::setw(17) << printable(e.ip) << printable(e.hostname) << "\n";
  if (events.empty()) std::cout << "(none yet)\n";
  return kOk;
}

int cmd_lease_event(const Dirs& dirs, const std::string& socket, const std::string& network,
                    const std::vector<std::string>& args) {
  // dnsmasq also calls the hook with "init" (to load leases; we keep none: --leasefile-ro
  // with static reservations) and with tftp/arp events we do not record.
  if (args.empty()) return kInvalidInput;
  const std::string& action = args[0];
  if (action != "add" && action != "old" && action != "del") return kOk;
  if (args.size() < 3 || !is_valid_object_name(network) || !Mac::parse(args[1]) ||
      !Ipv4::parse(args[2])) {
    std::cerr << "lease-event: expected ACTION MAC IP [HOSTNAME]\n";
    return kInvalidInput;
  }
  LeaseEvent e{now_utc(), network, action, args[1], args[2], args.size() > 3 ? args[3] : ""};
  // The hostname is the guest's word: one that is not a host name is not kept (the event is).
  for (const auto& [field, reason] : lease_event_errors(e, std::time(nullptr)))
    if (field == "hostname") e.hostname.clear();
  if (!socket.empty() && daemon_answers(socket)) {
    nlohmann::json body = {{"time", e.time}, {"network", e.network}, {"action", e.action},
                           {"mac", e.mac},   {"ip", e.ip},           {"hostname", e.hostname}};
    if (api_call(socket, "POST", "/v1/leases/events", body).exit_code == kOk) return kOk;
  }
  record_lease_event(dirs.state, e);  // no daemon: the file keeps it
  return kOk;
}

}  // namespace vmgw::cli
