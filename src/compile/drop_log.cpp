#include "compile/drop_log.h"

#include <cstdio>

#include "compile/compile.h"
#include "nft/table.h"

namespace vmgw::compile_detail {
namespace {

using nft::Json;

// A source's element goes a minute after its last logged-point packet: its token bucket only
// matters within a second or two, and the set's size bounds what a spoofed flood can fill
// (while it is full, new sources are not logged, and counted as suppressed).
constexpr int kSourceTimeoutSeconds = 60;
constexpr uint32_t kSourceSetSize = 65536;

std::string sources_set(const DropLogLimit& l) {
  return "drop_log_sources-" + std::to_string(l.per_source);
}
std::string rate_set(const DropLogLimit& l) {
  return "drop_log_rate-" + std::to_string(l.rate) + "-" + std::to_string(l.burst);
}

Json limit(uint32_t rate, uint32_t burst) {
  return {{"limit", {{"rate", rate}, {"burst", burst}, {"per", "second"}}}};
}

// update @set { key [timeout] limit ... }: a match, false when the key's bucket is empty (or a
// new key finds the set full).
Json update_limited(const std::string& set, Json key, uint32_t rate, uint32_t burst, bool expires) {
  Json elem = expires
                  ? Json{{"elem", {{"val", std::move(key)}, {"timeout", kSourceTimeoutSeconds}}}}
                  : std::move(key);
  return {{"set",
           {{"op", "update"},
            {"elem", std::move(elem)},
            {"set", nft::set_ref(set)},
            {"stmt", Json::array({limit(rate, burst)})}}}};
}

Json all_sources(const DropLogLimit& l) {
  // `meta mark & 0` is 0 for every packet: the set's one element is the table's shared bucket.
  return update_limited(rate_set(l), {{"&", Json::array({nft::meta("mark"), 0})}}, l.rate, l.burst,
                        false);
}

}  // namespace

std::string log_prefix(const std::string& verdict, const std::string& direction,
                       const std::string& what) {
  // Filter names go in here: nothing nft cannot read back, no cut UTF-8 character.
  return nft::kernel_string("vmgw " + verdict + " " + direction + " " + what, 127);
}

nft::Chain log_chain(const std::string& name, NftTable table, const std::string& prefix,
                     const LogEnd& end, const DropLogLimit& limit) {
  // Logged: the verdict at once (a return or continue leaves this chain with `return`: after a
  // goto that leaves the caller too, after a jump it goes on in the caller).
  auto logged = [&](std::vector<Json> matches) {
    matches.push_back({{"log", {{"prefix", prefix}, {"group", kNflogGroup}}}});
    if (end.verdict.empty()) {
      matches.push_back(nft::return_());
    } else {
      for (const auto& v : end.verdict) matches.push_back(v);
    }
    return matches;
  };
  nft::Chain c{name, std::nullopt, {}};
  const char* within = "logged: within host.drop_log";
  if (table == NftTable::inet) {
    // IPv4 has a bucket per source address; the rest (IPv6 to the host) the shared one only.
    std::vector<Json> v4{nft::match(nft::meta("nfproto"), "ipv4")};
    if (limit.per_source > 0)
      v4.push_back(update_limited(sources_set(limit), nft::payload("ip", "saddr"), limit.per_source,
                                  limit.per_source, true));
    v4.push_back(all_sources(limit));
    c.rules.push_back({logged(std::move(v4)), within});
    c.rules.push_back(
        {logged({nft::match(nft::meta("nfproto"), "ipv4", "!="), all_sources(limit)}), within});
  } else {
    std::vector<Json> l2;
    if (limit.per_source > 0)
      l2.push_back(update_limited(sources_set(limit), nft::payload("ether", "saddr"),
                                  limit.per_source, limit.per_source, true));
    l2.push_back(all_sources(limit));
    c.rules.push_back({logged(std::move(l2)), within});
  }
  c.rules.push_back({{nft::jump(names::kLogSuppressed)}, "not logged: over host.drop_log"});
  if (!end.verdict.empty()) c.rules.push_back({end.verdict, "the logged rule's verdict"});
  return c;
}

nft::Json enter_log_chain(const std::string& name, const LogEnd& end) {
  return end.leave_chain ? nft::goto_chain(name) : nft::jump(name);
}

std::string log_chain_name(NftTable table, const std::string& prefix, const LogEnd& end,
                           const DropLogLimit& limit) {
  const nft::Chain c = log_chain("", table, prefix, end, limit);
  std::string content = table == NftTable::inet ? "inet" : "bridge";
  content += end.leave_chain ? "|goto|" : "|jump|";
  for (const auto& r : c.rules) content += Json(r.expr).dump() + "\n";
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(nft::fnv1a(content)));
  return std::string("log-") + hash;
}

void declare_drop_log(nft::Table& t, NftTable table, const DropLogLimit& limit) {
  nft::Set sources;
  sources.name = sources_set(limit);
  sources.type = table == NftTable::inet ? "ipv4_addr" : "ether_addr";
  sources.flags = {"timeout"};
  sources.size = kSourceSetSize;
  sources.filled_by_kernel = true;
  sources.comment = "host.drop_log.per_source: a token bucket per source, filled by the kernel";
  nft::Set all;
  all.name = rate_set(limit);
  all.type = "mark";
  all.size = 1;
  all.filled_by_kernel = true;
  all.comment = "host.drop_log.rate: one token bucket for every log point, filled by the kernel";
  if (limit.per_source > 0) t.sets.push_back(std::move(sources));
  t.sets.push_back(std::move(all));
  t.chains.push_back(
      nft::Chain{names::kLogSuppressed,
                 std::nullopt,
                 {{{nft::counter()}, "packets not logged, over host.drop_log (all log points)"}}});
}

std::vector<nft::Json> logged_drop(nft::Table& t, NftTable table, const std::string& name,
                                   const std::string& prefix, const DropLogLimit& limit) {
  LogEnd end{{nft::drop()}, false};
  t.chains.push_back(log_chain(name, table, prefix, end, limit));
  return {nft::counter(), enter_log_chain(name, end)};
}

}  // namespace vmgw::compile_detail
