#include "apply/leases.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "backend/dhcp.h"

namespace vmgw {
namespace {

// Networks that have a file with `suffix` in <state>/dhcp, sorted.
std::vector<std::string> networks_with(const std::string& state_dir, const std::string& suffix) {
  std::vector<std::string> out;
  DIR* d = ::opendir((state_dir + "/dhcp").c_str());
  if (!d) return out;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > suffix.size() && n.compare(n.size() - suffix.size(), suffix.size(), suffix) == 0)
      out.push_back(n.substr(0, n.size() - suffix.size()));
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

// Guests drive this file (a DHCP client in a loop): past kMaxEventsFileBytes, the newest half
// (from a line start) replaces it. An event another hook appends meanwhile may be lost: it is a
// log, and bounded matters more.
void keep_newest_half(const std::string& path) {
  std::ifstream in(path);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  size_t from = all.find('\n', all.size() / 2);
  if (from == std::string::npos) return;
  const std::string tmp = path + ".tmp";
  ::unlink(tmp.c_str());
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
  if (fd < 0) return;
  const std::string tail = all.substr(from + 1);
  const bool ok = ::write(fd, tail.data(), tail.size()) == static_cast<ssize_t>(tail.size());
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) ::unlink(tmp.c_str());
}

}  // namespace

void record_lease_event(const std::string& state_dir, const LeaseEvent& e) {
  nlohmann::json j = {{"time", e.time}, {"network", e.network}, {"action", e.action},
                      {"mac", e.mac},   {"ip", e.ip},           {"hostname", e.hostname}};
  std::string line = j.dump() + "\n";
  std::string path = backend::dhcp_events_path(state_dir, e.network);
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error("cannot open " + path);
  ssize_t n = ::write(fd, line.data(), line.size());
  struct stat st {};
  const bool big = ::fstat(fd, &st) == 0 && static_cast<uint64_t>(st.st_size) > kMaxEventsFileBytes;
  ::close(fd);
  if (n != static_cast<ssize_t>(line.size())) throw std::runtime_error("cannot write " + path);
  if (big) keep_newest_half(path);
}

std::vector<LeaseEvent> read_lease_events(const std::string& state_dir) {
  std::vector<LeaseEvent> out;
  for (const auto& net : networks_with(state_dir, ".events")) {
    std::ifstream in(backend::dhcp_events_path(state_dir, net));
    std::string line;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_discarded() || !j.is_object()) continue;  // a torn line from a crash
      out.push_back({j.value("time", ""), j.value("network", net), j.value("action", ""),
                     j.value("mac", ""), j.value("ip", ""), j.value("hostname", "")});
    }
  }
  return out;
}

std::vector<Reservation> read_reservations(const std::string& state_dir) {
  std::vector<Reservation> out;
  for (const auto& net : networks_with(state_dir, ".hosts")) {
    std::ifstream in(backend::dhcp_hosts_path(state_dir, net));
    std::string line;
    while (std::getline(in, line)) {
      auto c1 = line.find(',');
      auto c2 = line.find(',', c1 == std::string::npos ? c1 : c1 + 1);
      if (c1 == std::string::npos || c2 == std::string::npos) continue;
      out.push_back(
          {net, line.substr(0, c1), line.substr(c1 + 1, c2 - c1 - 1), line.substr(c2 + 1)});
    }
  }
  return out;
}

}  // namespace vmgw
