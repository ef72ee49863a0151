// The recent packets logged by vmgw's own nftables rules, for `vmgw log`: a bounded ring that
// forgets the oldest entries, with sequence numbers so a follower can ask for what is new.
// Pure (no I/O) and not thread-safe: the daemon guards it with its own lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "backend/nflog.h"
#include "compile/log_prefix.h"

namespace vmgw::daemon {

struct LogEntry {
  uint64_t seq = 0;  // assigned by LogBook::add, from 1
  int64_t time_ns = 0;
  std::string vm;         // "" if the packet matched no VM
  std::string direction;  // "out" (from the VM), "in" (to the VM) or ""
  std::string verdict;    // accept, drop, reject, log
  std::string rule;
  backend::FiveTuple tuple;  // proto "" if the payload was not IP
};

class LogBook {
 public:
  explicit LogBook(size_t capacity = 4096);
  // Stores `e` with the next sequence number (which it returns), forgetting the oldest entry
  // if the book is full.
  uint64_t add(LogEntry e);
  // Entries with seq > after_seq, of VM `vm_filter` ("" for all), oldest first, at most `limit`
  // (0: no limit). Oldest first so that a follower passing the last seq it saw skips nothing.
  std::vector<LogEntry> since(uint64_t after_seq, const std::string& vm_filter, size_t limit) const;
  // The newest `limit` entries of `vm_filter` ("" for all), oldest first: a one-shot tail.
  std::vector<LogEntry> latest(const std::string& vm_filter, size_t limit) const;
  uint64_t last_seq() const { return last_seq_; }  // 0 before the first add
  uint64_t dropped() const { return dropped_; }    // entries forgotten to make room

 private:
  size_t capacity_;
  std::deque<LogEntry> entries_;
  uint64_t last_seq_ = 0;
  uint64_t dropped_ = 0;
};

// "2026-11-22T02:40:01.123Z" (UTC, milliseconds).
std::string format_time(int64_t time_ns);
// Fields: seq, time, vm, direction, verdict, rule, proto, src, dst, sport, dport, and
// icmp_type for ICMP packets that carry it.
nlohmann::json to_json(const LogEntry& e);
// "2026-11-22T02:40:01.123Z vm=web out drop rule='no-ip-spoofing rule 3' tcp 10.0.0.9:41000 ->
// 192.0.2.10:443"; "-" stands for an empty vm or direction, IPv6 addresses with ports are
// bracketed and ICMP ends in "type N".
std::string format_line(const LogEntry& e);
// format_line without the time: "vm=web out drop rule='...' tcp 10.0.0.9:41000 -> ...".
std::string format_fields(const LogEntry& e);

// The log prefix vmgw's rules carry (compile/log_prefix.h).
using Prefix = LogPrefix;
inline std::optional<Prefix> parse_prefix(std::string_view prefix) {
  return parse_log_prefix(prefix);
}

}  // namespace vmgw::daemon
