// systemd's journal, spoken natively (systemd.journal-fields(7), "Native Journal Protocol" in
// systemd's documentation): one datagram per entry on /run/systemd/journal/socket, so an entry
// carries its priority and fields of our own, which a line on stderr cannot. The entry's text is
// built by pure functions (unit-tested); sending is the only I/O.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace vmgw::daemon {

using JournalFields = std::vector<std::pair<std::string, std::string>>;

// Whether JOURNAL_STREAM ("DEVICE:INODE", set by systemd for a service whose stderr is the
// journal) names the file stderr is (`dev`, `ino` from fstat(2)): systemd documents this check,
// since a child whose stderr was redirected elsewhere inherits the variable.
bool stream_is_journal(std::optional<std::string_view> journal_stream, dev_t dev, ino_t ino);

// One entry of the native protocol: "KEY=value\n" per field, in order; a value holding a newline
// is written as "KEY\n", its length as 64-bit little endian, the value, "\n".
std::string journal_entry(const JournalFields& fields);

// Sends `entry` as one datagram to `socket_path`. False when it could not (no journald, too
// big): the caller then writes the line to stderr, so nothing is lost silently.
bool journal_send(const std::string& entry,
                  const std::string& socket_path = "/run/systemd/journal/socket");

}  // namespace vmgw::daemon
