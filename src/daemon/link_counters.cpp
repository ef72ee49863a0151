#include "daemon/link_counters.h"

#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>

namespace vmgw::daemon {

std::map<std::string, LinkBytes> parse_proc_net_dev(std::string_view text) {
  std::map<std::string, LinkBytes> out;
  std::istringstream in{std::string(text)};
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;  // the header lines have "|", not ":"
    std::string name = line.substr(0, colon);
    name.erase(0, name.find_first_not_of(' '));
    // Receive: bytes packets errs drop fifo frame compressed multicast; then transmit: bytes ...
    std::istringstream fields(line.substr(colon + 1));
    std::vector<uint64_t> v{std::istream_iterator<uint64_t>(fields), {}};
    if (name.empty() || v.size() < 9) continue;
    out[name] = {v[0], v[8]};
  }
  return out;
}

std::map<std::string, LinkBytes> read_link_bytes() {
  std::ifstream f("/proc/net/dev");
  if (!f) return {};
  return parse_proc_net_dev(std::string(std::istreambuf_iterator<char>(f), {}));
}

}  // namespace vmgw::daemon
