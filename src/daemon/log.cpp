#include "daemon/log.h"

#include <sys/stat.h>

#include <cstdlib>
#include <ctime>
#include <iostream>
#include <optional>

#include "daemon/journal.h"

namespace vmgw::daemon {
namespace {

// Decided once: stderr does not change under a running daemon.
bool to_journal() {
  static const bool journal = [] {
    const char* env = std::getenv("JOURNAL_STREAM");
    struct stat st {};
    if (!env || ::fstat(2, &st) != 0) return false;
    return stream_is_journal(std::string_view(env), st.st_dev, st.st_ino);
  }();
  return journal;
}

// syslog(3)'s priorities, as the journal's PRIORITY field takes them.
constexpr int kError = 3, kWarning = 4, kNotice = 5, kInfo = 6;

LogListener& listener() {
  static LogListener l;
  return l;
}

void line(const char* level, int priority, const std::string& msg, const LogFields& about) {
  // Packets are not changes: the page shows them from the log book.
  if (!about.object.empty() && priority != kNotice && listener())
    listener()(msg, about, priority == kError);
  if (to_journal()) {
    // The priority says info or error; a packet keeps its word, to be told from the changes.
    const bool packet = priority == kNotice;
    JournalFields f = {
        {"MESSAGE", packet ? "packet " + msg : msg},
        {"PRIORITY", std::to_string(about.failed && priority > kWarning ? kWarning : priority)},
        {"SYSLOG_IDENTIFIER", "vmgwd"}};
    if (!about.object.empty()) f.emplace_back("VMGW_OBJECT", about.object);
    if (!about.change.empty()) f.emplace_back("VMGW_CHANGE", about.change);
    if (journal_send(journal_entry(f))) return;
  }
  // Exactly as before the journal existed: tests and operators grep these lines.
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  std::cerr << buf << " " << level << " " << msg << std::endl;
}

}  // namespace

void set_log_listener(LogListener l) {
  listener() = std::move(l);
}

void log_info(const std::string& msg, const LogFields& fields) {
  line("info", kInfo, msg, fields);
}
void log_error(const std::string& msg, const LogFields& fields) {
  line("error", kError, msg, fields);
}
void log_packet(const std::string& fields, const LogFields& about) {
  line("packet", kNotice, fields, about);
}

}  // namespace vmgw::daemon
