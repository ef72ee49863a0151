#include "filter/program.h"

#include <algorithm>

namespace vmgw::filter {

Layer layer_of(Protocol p) {
  switch (p) {
    case Protocol::mac:
    case Protocol::vlan:
    case Protocol::stp:
    case Protocol::arp:
    case Protocol::rarp:
    case Protocol::ip:
    case Protocol::ipv6:
      return Layer::l2;
    default:
      return Layer::l3;
  }
}

const Attr* ConcreteRule::find(std::string_view name) const {
  for (const auto& a : attrs)
    if (a.name == name) return &a;
  return nullptr;
}

std::vector<RootStep> root_steps(const Program& p, Direction d) {
  std::vector<std::pair<int, RootStep>> steps;
  for (const auto& c : p.chains) steps.push_back({c.priority, RootStep{&c, nullptr}});
  for (const auto& r : p.rules) {
    if (r.layer == Layer::l2 && r.chain == "root" && r.applies_to(d))
      steps.push_back({r.priority, RootStep{nullptr, &r}});
  }
  // Stable: jumps were added first, so at equal priority a jump precedes rules, and rules keep
  // their expansion order.
  std::stable_sort(steps.begin(), steps.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<RootStep> out;
  out.reserve(steps.size());
  for (const auto& s : steps) out.push_back(s.second);
  return out;
}

std::vector<const ConcreteRule*> rules_of(const Program& p, Layer layer, const std::string& chain,
                                          Direction d) {
  std::vector<const ConcreteRule*> out;
  for (const auto& r : p.rules)
    if (r.layer == layer && r.chain == chain && r.applies_to(d)) out.push_back(&r);
  return out;
}

}  // namespace vmgw::filter
