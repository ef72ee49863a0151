#include "backend/nft_backend.h"

namespace vmgw::backend {

std::vector<RuleCounter> NftBackend::rule_counters(const std::string& family,
                                                   const std::string& table,
                                                   const std::string& chain) {
  auto t = read_table(family, table);
  const nft::Chain* c = t ? t->find_chain(chain) : nullptr;
  if (!c) return {};
  std::vector<RuleCounter> out;
  for (const auto& rule : c->rules) {
    RuleCounter r{.comment = rule.comment};
    for (const auto& x : rule.expr) {
      for (const char* verdict : {"jump", "goto"})
        if (x.contains(verdict) && x[verdict].is_object() && x[verdict].contains("target"))
          r.jumps.push_back(x[verdict]["target"].get<std::string>());
      if (x.contains("match") && x["match"].is_object() && x["match"].contains("right") &&
          x["match"]["right"].is_string()) {
        const std::string right = x["match"]["right"].get<std::string>();
        if (right.size() > 1 && right[0] == '@') r.lookups.push_back(right.substr(1));
      }
      if (!x.contains("counter")) continue;
      r.has_counter = true;
      if (!x["counter"].is_object()) continue;
      r.packets += x["counter"].value("packets", uint64_t{0});
      r.bytes += x["counter"].value("bytes", uint64_t{0});
    }
    out.push_back(std::move(r));
  }
  return out;
}

std::optional<nft::Set> NftBackend::read_set(const std::string& family, const std::string& table,
                                             const std::string& set) {
  auto t = read_table(family, table);
  const nft::Set* s = t ? t->find_set(set) : nullptr;
  return s ? std::optional<nft::Set>(*s) : std::nullopt;
}

NftBackend::Counts NftBackend::element_counts(const std::string& family, const std::string& table,
                                              const nft::Set& declared,
                                              const std::vector<nft::Element>& elements) {
  Counts out;
  auto set = read_set(family, table, declared.name);
  if (!set) return out;
  for (const auto& k : set->elements)
    for (const auto& m : elements)
      if (k == m) {
        out.packets += k.packets;
        out.bytes += k.bytes;
      }
  return out;
}

}  // namespace vmgw::backend
