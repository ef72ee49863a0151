#include "plan/nft_state.h"

#include <map>

namespace vmgw {
namespace {

using nft::Json;

// nft lists inet_proto values by name when /etc/protocols has them and as numbers otherwise;
// vmgw writes numbers, so names are turned back into numbers before comparing.
Json protocol_as_number(const Json& v) {
  static const std::map<std::string, int> kNumbers = {
      {"icmp", 1}, {"tcp", 6}, {"udp", 17}, {"sctp", 132}, {"udplite", 136}};
  if (v.is_string()) {
    auto it = kNumbers.find(v.get<std::string>());
    if (it != kNumbers.end()) return it->second;
  }
  return v;
}

// Applies protocol_as_number to the parts of `key` whose declared type is inet_proto.
Json normalize_key(const Json& key, const Json& type) {
  if (type == "inet_proto") return protocol_as_number(key);
  if (!type.is_array() || !key.is_object() || !key.contains("concat")) return key;
  Json out = key;
  auto& parts = out["concat"];
  for (size_t i = 0; i < parts.size() && i < type.size(); ++i)
    if (type[i] == "inet_proto") parts[i] = protocol_as_number(parts[i]);
  return out;
}

nft::Set parse_set(const Json& o) {
  nft::Set s;
  s.name = o.value("name", "");
  s.type = o.value("type", Json());
  if (o.contains("map")) s.map = o["map"];
  s.size = o.value("size", uint32_t{0});
  if (o.contains("flags")) {
    for (const auto& f : o["flags"]) s.flags.push_back(f.get<std::string>());
  }
  if (o.contains("stmt"))
    for (const auto& st : o["stmt"])
      if (st.is_object() && st.contains("counter")) s.counter = true;
  if (o.contains("elem")) {
    for (const auto& e : o["elem"]) {
      // Elements with attached data (counters, timeouts) are wrapped: {"elem": {"val": ...}}.
      const Json& plain = (e.is_object() && e.contains("elem")) ? e["elem"]["val"] : e;
      if (s.is_map() && plain.is_array() && plain.size() == 2) {
        s.elements.push_back({normalize_key(plain[0], s.type), plain[1]});
      } else {
        s.elements.push_back({normalize_key(plain, s.type), nullptr});
      }
      if (e.is_object() && e.contains("elem") && e["elem"].contains("counter")) {
        const Json& c = e["elem"]["counter"];
        s.elements.back().packets = c.value("packets", uint64_t{0});
        s.elements.back().bytes = c.value("bytes", uint64_t{0});
      }
    }
  }
  return s;
}

nft::Chain parse_chain(const Json& o) {
  nft::Chain c;
  c.name = o.value("name", "");
  if (o.contains("hook")) {
    c.hook = nft::Hook{o.value("type", ""), o.value("hook", ""), o.value("prio", 0),
                       o.value("policy", "accept")};
  }
  return c;
}

nft::Rule parse_rule(const Json& o) {
  nft::Rule r;
  if (o.contains("expr")) r.expr = o["expr"].get<std::vector<Json>>();
  auto [human, id] = nft::split_kernel_comment(o.value("comment", ""));
  r.comment = human;
  // A rule without an id is not ours: "!" never equals a computed id.
  r.listed_id = id.empty() ? "!" + std::to_string(o.value("handle", 0)) : id;
  return r;
}

}  // namespace

std::optional<nft::Table> table_from_listing(const Json& listing, const std::string& family,
                                             const std::string& name) {
  if (!listing.contains("nftables")) return std::nullopt;
  nft::Table t;
  t.family = family;
  t.name = name;
  bool found = false;
  auto ours = [&](const Json& o) {
    return o.value("family", "") == family && o.value("table", "") == name;
  };
  for (const auto& item : listing["nftables"]) {
    if (item.contains("table")) {
      const auto& o = item["table"];
      if (o.value("family", "") == family && o.value("name", "") == name) found = true;
    } else if (item.contains("ct helper") && ours(item["ct helper"])) {
      const auto& o = item["ct helper"];
      t.helpers.push_back({o.value("name", ""), o.value("type", ""), o.value("protocol", ""),
                           o.value("l3proto", "ip")});
    } else if (item.contains("set") && ours(item["set"])) {
      t.sets.push_back(parse_set(item["set"]));
    } else if (item.contains("map") && ours(item["map"])) {
      t.sets.push_back(parse_set(item["map"]));
    } else if (item.contains("chain") && ours(item["chain"])) {
      t.chains.push_back(parse_chain(item["chain"]));
    } else if (item.contains("rule") && ours(item["rule"])) {
      const auto chain = item["rule"].value("chain", "");
      for (auto& c : t.chains) {
        if (c.name == chain) c.rules.push_back(parse_rule(item["rule"]));
      }
    }
  }
  if (!found) return std::nullopt;
  return t;
}

}  // namespace vmgw
