#include "model/lease_event.h"

#include <cctype>
#include <charconv>

#include "model/net.h"

namespace vmgw {
namespace {

bool hostname_ok(std::string_view h) {
  if (h.size() > kMaxLeaseHostname) return false;
  size_t label = 0;
  for (char c : h) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return h.empty() || label > 0;
}

}  // namespace

std::optional<std::time_t> parse_utc_time(std::string_view s) {
  // 2026-12-07T04:20:53Z
  if (s.size() != 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' ||
      s[16] != ':' || s[19] != 'Z')
    return std::nullopt;
  auto num = [&](size_t at, size_t len, int lo, int hi) -> std::optional<int> {
    int v = 0;
    auto [end, ec] = std::from_chars(s.data() + at, s.data() + at + len, v);
    if (ec != std::errc() || end != s.data() + at + len || v < lo || v > hi) return std::nullopt;
    return v;
  };
  auto y = num(0, 4, 1970, 9999), mo = num(5, 2, 1, 12), d = num(8, 2, 1, 31),
       h = num(11, 2, 0, 23), mi = num(14, 2, 0, 59), se = num(17, 2, 0, 60);
  if (!y || !mo || !d || !h || !mi || !se) return std::nullopt;
  std::tm tm{};
  tm.tm_year = *y - 1900;
  tm.tm_mon = *mo - 1;
  tm.tm_mday = *d;
  tm.tm_hour = *h;
  tm.tm_min = *mi;
  tm.tm_sec = *se;
  const std::time_t t = ::timegm(&tm);
  if (tm.tm_mday != *d) return std::nullopt;  // 31 February
  return t;
}

std::string format_utc_time(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::vector<std::pair<std::string, std::string>> lease_event_errors(const LeaseEvent& e,
                                                                    std::time_t now) {
  std::vector<std::pair<std::string, std::string>> errors;
  auto t = parse_utc_time(e.time);
  if (!t)
    errors.emplace_back("time", "is not a UTC time YYYY-MM-DDTHH:MM:SSZ");
  else if (*t > now + 86400)
    errors.emplace_back("time", "is more than a day ahead of this host's clock");
  if (!is_valid_object_name(e.network)) errors.emplace_back("network", "is not a network name");
  if (e.action != "add" && e.action != "old" && e.action != "del")
    errors.emplace_back("action", "must be add, old or del");
  if (!Mac::parse(e.mac)) errors.emplace_back("mac", "is not a MAC address");
  if (!Ipv4::parse(e.ip)) errors.emplace_back("ip", "is not an IPv4 address");
  if (!hostname_ok(e.hostname))
    errors.emplace_back("hostname",
                        "is not a host name (letters, digits, '-' and '_' in labels "
                        "of at most 63, at most " +
                            std::to_string(kMaxLeaseHostname) + " characters)");
  return errors;
}

}  // namespace vmgw
