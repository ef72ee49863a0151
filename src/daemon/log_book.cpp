#include "daemon/log_book.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <ctime>

namespace vmgw::daemon {
namespace {

bool matches(const LogEntry& e, const std::string& vm_filter) {
  return vm_filter.empty() || e.vm == vm_filter;
}

// "a.b.c.d:port" or "[v6]:port"; the bare address when the protocol has no ports.
std::string endpoint(const std::string& address, uint16_t port, bool has_ports) {
  if (!has_ports) return address;
  bool v6 = address.find(':') != std::string::npos;
  return (v6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
}

}  // namespace

LogBook::LogBook(size_t capacity) : capacity_(std::max<size_t>(capacity, 1)) {}

uint64_t LogBook::add(LogEntry e) {
  if (entries_.size() == capacity_) {
    entries_.pop_front();
    ++dropped_;
  }
  e.seq = ++last_seq_;
  entries_.push_back(std::move(e));
  return last_seq_;
}

std::vector<LogEntry> LogBook::since(uint64_t after_seq, const std::string& vm_filter,
                                     size_t limit) const {
  // Sequence numbers are contiguous in the ring, so the first entry after `after_seq` is found
  // by arithmetic rather than a scan.
  std::vector<LogEntry> out;
  if (entries_.empty() || after_seq >= last_seq_) return out;
  uint64_t first_seq = entries_.front().seq;
  size_t start = after_seq < first_seq ? 0 : static_cast<size_t>(after_seq - first_seq + 1);
  for (size_t i = start; i < entries_.size() && (limit == 0 || out.size() < limit); ++i)
    if (matches(entries_[i], vm_filter)) out.push_back(entries_[i]);
  return out;
}

std::vector<LogEntry> LogBook::latest(const std::string& vm_filter, size_t limit) const {
  std::vector<LogEntry> out;
  for (auto it = entries_.rbegin(); it != entries_.rend() && (limit == 0 || out.size() < limit);
       ++it)
    if (matches(*it, vm_filter)) out.push_back(*it);
  std::reverse(out.begin(), out.end());
  return out;
}

std::string format_time(int64_t time_ns) {
  constexpr int64_t kNsPerSec = 1'000'000'000;
  int64_t sec = time_ns / kNsPerSec, ns = time_ns % kNsPerSec;
  if (ns < 0) {  // floor, for times before 1970
    ns += kNsPerSec;
    --sec;
  }
  std::time_t t = static_cast<std::time_t>(sec);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  std::array<char, 32> date{};
  std::strftime(date.data(), date.size(), "%Y-%m-%dT%H:%M:%S", &tm);
  std::array<char, 8> ms{};
  std::snprintf(ms.data(), ms.size(), ".%03dZ", static_cast<int>(ns / 1'000'000));
  return std::string(date.data()) + ms.data();
}

nlohmann::json to_json(const LogEntry& e) {
  nlohmann::json j = {{"seq", e.seq},
                      {"time", format_time(e.time_ns)},
                      {"vm", e.vm},
                      {"direction", e.direction},
                      {"verdict", e.verdict},
                      {"rule", e.rule},
                      {"proto", e.tuple.proto},
                      {"src", e.tuple.src},
                      {"dst", e.tuple.dst},
                      {"sport", e.tuple.sport},
                      {"dport", e.tuple.dport}};
  if (e.tuple.icmp_type) j["icmp_type"] = *e.tuple.icmp_type;
  return j;
}

std::string format_line(const LogEntry& e) {
  return format_time(e.time_ns) + " " + format_fields(e);
}

std::string format_fields(const LogEntry& e) {
  std::string line = "vm=" + (e.vm.empty() ? std::string("-") : e.vm) + " " +
                     (e.direction.empty() ? "-" : e.direction) + " " + e.verdict + " rule='" +
                     e.rule + "'";
  const auto& t = e.tuple;
  if (t.proto.empty()) return line + " non-ip";
  bool has_ports = t.proto == "tcp" || t.proto == "udp";
  line += " " + t.proto + " " + endpoint(t.src, t.sport, has_ports) + " -> " +
          endpoint(t.dst, t.dport, has_ports);
  if (t.icmp_type) line += " type " + std::to_string(*t.icmp_type);
  return line;
}

}  // namespace vmgw::daemon
