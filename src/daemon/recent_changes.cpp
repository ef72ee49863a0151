#include "daemon/recent_changes.h"

#include "daemon/log_book.h"

namespace vmgw::daemon {

void RecentChanges::add(RecentChange c) {
  if (changes_.size() == capacity_) changes_.pop_front();
  changes_.push_back(std::move(c));
}

nlohmann::json RecentChanges::to_json() const {
  nlohmann::json list = nlohmann::json::array();
  for (auto it = changes_.rbegin(); it != changes_.rend(); ++it)
    list.push_back({{"time", format_time(it->time_s * 1'000'000'000)},
                    {"object", it->object},
                    {"change", it->change},
                    {"message", it->message},
                    {"ok", it->ok}});
  return list;
}

}  // namespace vmgw::daemon
