#include "daemon/journal.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdint>
#include <cstring>

namespace vmgw::daemon {

bool stream_is_journal(std::optional<std::string_view> journal_stream, dev_t dev, ino_t ino) {
  if (!journal_stream) return false;
  auto colon = journal_stream->find(':');
  if (colon == std::string_view::npos) return false;
  auto number = [](std::string_view text, auto& out) {
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
    return ec == std::errc() && end == text.data() + text.size() && !text.empty();
  };
  unsigned long long d = 0, i = 0;
  return number(journal_stream->substr(0, colon), d) &&
         number(journal_stream->substr(colon + 1), i) && d == static_cast<uint64_t>(dev) &&
         i == static_cast<uint64_t>(ino);
}

std::string journal_entry(const JournalFields& fields) {
  std::string out;
  for (const auto& [key, value] : fields) {
    if (value.find('\n') == std::string::npos) {
      out += key + "=" + value + "\n";
      continue;
    }
    out += key + "\n";
    uint64_t size = value.size();
    for (int b = 0; b < 8; ++b) out += static_cast<char>((size >> (8 * b)) & 0xff);
    out += value + "\n";
  }
  return out;
}

bool journal_send(const std::string& entry, const std::string& socket_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof addr.sun_path) return false;
  std::memcpy(addr.sun_path, socket_path.c_str(), socket_path.size() + 1);
  // A socket per entry: the daemon logs a few lines a second at most (packets are bounded by
  // host.drop_log), and a kept socket would need reconnecting when journald restarts.
  int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  auto sent = ::sendto(fd, entry.data(), entry.size(), MSG_NOSIGNAL,
                       reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  ::close(fd);
  return sent == static_cast<ssize_t>(entry.size());
}

}  // namespace vmgw::daemon
