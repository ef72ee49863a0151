// `vmgw log` and `vmgw status` without vmgwd (`vmgw apply` alone): nobody keeps the packets
// vmgw's rules log, so the CLI itself binds the kernel's log group and prints them as they come,
// in `vmgw log`'s own form; and the status it can give is the kernel's counters by rule name.
#include <poll.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "backend/nflog.h"
#include "backend/nft_backend.h"
#include "cli/client.h"
#include "cli/commands.h"
#include "cli/table.h"
#include "compile/compile.h"
#include "compile/drop_log.h"
#include "compile/log_prefix.h"

namespace vmgw::cli {
namespace {

std::string utc_time(int64_t ns) {
  std::time_t t = static_cast<std::time_t>(ns / 1'000'000'000);
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char ms[8];
  std::snprintf(ms, sizeof ms, ".%03dZ", static_cast<int>((ns / 1'000'000) % 1000));
  return std::string(buf) + ms;
}

nlohmann::json entry(const backend::LoggedPacket& pkt, const LogPrefix& prefix) {
  nlohmann::json e = {{"time", utc_time(pkt.time_ns)},
                      {"vm", ""},
                      {"direction", prefix.direction},
                      {"verdict", prefix.verdict},
                      {"rule", prefix.rule}};
  if (auto t = backend::five_tuple(pkt.payload)) {
    e["proto"] = t->proto;
    e["src"] = t->src;
    e["dst"] = t->dst;
    e["sport"] = t->sport;
    e["dport"] = t->dport;
  }
  return e;
}

}  // namespace

int cmd_log_kernel(int seconds, const std::string& output) {
  if (::geteuid() != 0) {
    std::cerr << "vmgwd is not running, and following the kernel's log needs root\n";
    return kEnvironment;
  }
  std::unique_ptr<backend::NflogSource> source;
  try {
    source = backend::open_nflog(compile_detail::kNflogGroup);
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kEnvironment;
  }
  std::cerr << "vmgwd is not running: following what vmgw's rules log from now on (no history, "
               "no VM names)"
            << (seconds > 0 ? " for " + std::to_string(seconds) + " s" : "; Ctrl-C stops") << "\n";
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (seconds == 0 || std::chrono::steady_clock::now() < end) {
    pollfd p{source->fd(), POLLIN, 0};
    if (::poll(&p, 1, 200) <= 0) continue;
    nlohmann::json entries = nlohmann::json::array();
    for (const auto& pkt : source->read_ready())
      if (auto prefix = parse_log_prefix(pkt.prefix)) entries.push_back(entry(pkt, *prefix));
    print_log(entries, output);
  }
  return kOk;
}

int cmd_status_kernel(const std::string& output) {
  std::cerr << "vmgwd is not running: the gateway's rules as the kernel counts them\n";
  if (::geteuid() != 0) {
    std::cerr << "reading the kernel's counters needs root (CAP_NET_ADMIN)\n";
    return kEnvironment;
  }
  try {
    auto nft = backend::make_libnftables_backend();
    nlohmann::json rules = nlohmann::json::array();
    for (const char* chain : names::kStatusChains)
      for (const auto& r : nft->rule_counters("inet", names::kTable, chain))
        if (r.has_counter && !r.comment.empty())
          rules.push_back(
              {{"chain", chain}, {"rule", r.comment}, {"packets", r.packets}, {"bytes", r.bytes}});
    if (output == "json") {
      std::cout << nlohmann::json{{"daemon", "not running"}, {"rules", rules}}.dump(2) << "\n";
    } else if (rules.empty()) {
      std::cout << "no vmgw table in this network namespace (nothing applied yet)\n";
    } else {
      Table t({"CHAIN", "RULE", "PACKETS", "BYTES"});
      for (const auto& r : rules)
        t.add({cell(r, "chain"), cell(r, "rule"), cell(r, "packets"), cell(r, "bytes")});
      t.print(std::cout);
    }
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
  }
  return kEnvironment;
}

}  // namespace vmgw::cli
