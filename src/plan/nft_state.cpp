#include "plan/nft_state.h"

namespace vmgw {
namespace {

using nft::Json;

nft::Set parse_set(const Json& o) {
  nft::Set s;
  s.name = o.value("name", "");
  s.type = o.value("type", Json());
  if (o.contains("map")) s.map = o["map"];
  if (o.contains("flags")) {
    for (const auto& f : o["flags"]) s.flags.push_back(f.get<std::string>());
  }
  if (o.contains("elem")) {
    for (const auto& e : o["elem"]) {
      // Elements with attached data (counters, timeouts) are wrapped: {"elem": {"val": ...}}.
      const Json& plain = (e.is_object() && e.contains("elem")) ? e["elem"]["val"] : e;
      if (s.is_map() && plain.is_array() && plain.size() == 2) {
        s.elements.push_back({plain[0], plain[1]});
      } else {
        s.elements.push_back({plain, nullptr});
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
