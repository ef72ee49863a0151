// The last changes the daemon made and the self-heals it did, for the status page: a bounded
// ring (the journal keeps them all). Pure and not thread-safe: the daemon's loop owns it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>

#include <nlohmann/json.hpp>

namespace vmgw::daemon {

struct RecentChange {
  int64_t time_s = 0;   // wall clock
  std::string object;   // "vm/web1", "eip/203.0.113.17", "nftables"
  std::string change;   // "add", "remove", "set", "self-heal", ...
  std::string message;  // the log line's text
  bool ok = true;       // false: refused or failed
};

class RecentChanges {
 public:
  explicit RecentChanges(size_t capacity = 50) : capacity_(capacity ? capacity : 1) {}
  void add(RecentChange c);
  // Newest first, as the page shows them.
  nlohmann::json to_json() const;

 private:
  size_t capacity_;
  std::deque<RecentChange> changes_;
};

}  // namespace vmgw::daemon
