// The daemon's log: one line per event on stderr (journald adds time and unit when run by
// systemd; we add our own timestamp for foreground runs and tests). Under systemd, when stderr
// is the journal (JOURNAL_STREAM, daemon/journal.h), each line goes to the journal instead as
// one entry with its priority and fields naming the object and the change, so that
// `journalctl VMGW_OBJECT=vm/web1` finds what happened to it.
#pragma once

#include <functional>
#include <string>

namespace vmgw::daemon {

// What a line is about, for the journal's VMGW_OBJECT and VMGW_CHANGE fields ("" leaves a
// field out): object "vm/web1", change "add". Outside the journal they change nothing.
struct LogFields {
  std::string object;
  std::string change;
  // The change was refused or failed: a warning in the journal (PRIORITY=4) although the line is
  // log_info's, whose stderr text stays as it always was.
  bool failed = false;
};

void log_info(const std::string& msg, const LogFields& fields = {});
void log_error(const std::string& msg, const LogFields& fields = {});
// A packet vmgw's rules logged (`vmgw log`), for the journal: "<time> packet <fields>", the
// fields as daemon::format_fields gives them. Bounded by host.drop_log in the kernel.
void log_packet(const std::string& fields, const LogFields& about = {});

// Called after every line that names an object (LogFields::object not empty), with `error` for
// log_error's: how the status page learns the recent changes and self-heals without every
// caller knowing about it. One listener; an empty function removes it.
using LogListener = std::function<void(const std::string& msg, const LogFields& about, bool error)>;
void set_log_listener(LogListener listener);

}  // namespace vmgw::daemon
