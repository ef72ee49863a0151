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

}  // namespace vmgw::backend
