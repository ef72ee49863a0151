#include "plan/nft_diff.h"

#include <algorithm>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace vmgw {
namespace {

using nft::Json;

// Chains by name: tables hold tens of thousands of chains, so no linear lookups.
using ChainIndex = std::unordered_map<std::string_view, const nft::Chain*>;

ChainIndex index_chains(const nft::Table& t) {
  ChainIndex ix;
  ix.reserve(t.chains.size());
  for (const auto& c : t.chains) ix.emplace(c.name, &c);
  return ix;
}

const nft::Chain* find(const ChainIndex& ix, const std::string& name) {
  auto it = ix.find(name);
  return it == ix.end() ? nullptr : it->second;
}

// A declaration the kernel cannot change in place (set type, base chain hook): the whole table
// is replaced inside the same batch, which the kernel still applies atomically.
bool needs_rebuild(const nft::Table& cur, const nft::Table& want, const ChainIndex& cur_chains,
                   const ChainIndex& want_chains) {
  for (const auto& h : want.helpers) {
    for (const auto& c : cur.helpers)
      if (c.name == h.name && c != h) return true;
  }
  for (const auto& s : want.sets) {
    const nft::Set* c = cur.find_set(s.name);
    if (c && !c->same_declaration(s)) return true;
  }
  for (const auto& ch : want.chains) {
    const nft::Chain* c = find(cur_chains, ch.name);
    if (c && c->hook != ch.hook) return true;
  }
  for (const auto& c : cur.chains) {
    // A base chain we no longer declare would keep filtering traffic until deleted; deleting
    // it in place is fine, but its hook must not linger half-updated.
    if (c.hook && !find(want_chains, c.name)) return true;
  }
  return false;
}

std::string plural(int n, const char* word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

}  // namespace

NftChange& NftChange::operator+=(NftChange&& o) {
  // The batch of a large table is large: moved, not copied.
  if (commands.empty()) {
    std::vector<Json> mine = std::move(o.commands);
    o.commands = std::move(commands);
    commands = std::move(mine);
  } else {
    commands.reserve(commands.size() + o.commands.size());
    for (auto& c : o.commands) commands.push_back(std::move(c));
  }
  o.commands.clear();
  return *this += static_cast<const NftChange&>(o);
}

NftChange& NftChange::operator+=(const NftChange& o) {
  commands.insert(commands.end(), o.commands.begin(), o.commands.end());
  created = created || o.created;
  rebuilt = rebuilt || o.rebuilt;
  sets_added += o.sets_added;
  sets_removed += o.sets_removed;
  chains_added += o.chains_added;
  chains_changed += o.chains_changed;
  chains_removed += o.chains_removed;
  elements_added += o.elements_added;
  elements_removed += o.elements_removed;
  return *this;
}

Json NftChange::batch() const {
  return {{"nftables", commands}};
}

std::string NftChange::summary() const {
  if (empty()) return "nothing";
  std::string out;
  auto add = [&](const std::string& part) { out += (out.empty() ? "" : ", ") + part; };
  if (created) add("table created");
  if (rebuilt) add("table rebuilt");
  if (elements_added) add("+" + plural(elements_added, "element"));
  if (elements_removed) add("-" + plural(elements_removed, "element"));
  if (chains_added) add("+" + plural(chains_added, "chain"));
  if (chains_changed) add(plural(chains_changed, "chain") + " rewritten");
  if (chains_removed) add("-" + plural(chains_removed, "chain"));
  if (sets_added) add("+" + plural(sets_added, "set"));
  if (sets_removed) add("-" + plural(sets_removed, "set"));
  return out;
}

NftChange diff_table(const std::optional<nft::Table>& current, const nft::Table& want) {
  NftChange ch;
  auto count_all = [&] {
    for (const auto& s : want.sets) ch.elements_added += static_cast<int>(s.elements.size());
    ch.chains_added = static_cast<int>(want.chains.size());
    ch.sets_added = static_cast<int>(want.sets.size());
  };
  if (!current) {
    ch.commands = nft::create_all_cmds(want);
    ch.created = true;
    count_all();
    return ch;
  }
  const nft::Table& cur = *current;
  const ChainIndex cur_chains = index_chains(cur), want_chains = index_chains(want);
  if (needs_rebuild(cur, want, cur_chains, want_chains)) {
    ch.commands.push_back(nft::delete_table_cmd(cur));
    for (auto& c : nft::create_all_cmds(want)) ch.commands.push_back(std::move(c));
    ch.rebuilt = true;
    count_all();
    return ch;
  }

  std::vector<Json> add_sets, add_chains, flushes, del_elems, add_elems, add_rules, del_chains,
      del_sets;
  auto has_helper = [](const nft::Table& t, const std::string& name) {
    return std::any_of(t.helpers.begin(), t.helpers.end(),
                       [&](const nft::CtHelper& h) { return h.name == name; });
  };
  for (const auto& h : want.helpers)
    if (!has_helper(cur, h.name)) add_sets.push_back(nft::add_helper_cmd(want, h));
  for (const auto& h : cur.helpers)  // after the rules that used them were flushed
    if (!has_helper(want, h.name)) del_sets.push_back(nft::delete_helper_cmd(cur, h));
  for (const auto& s : want.sets) {
    const nft::Set* c = cur.find_set(s.name);
    std::unordered_set<std::string> have, wanted;
    if (c) {
      have.reserve(c->elements.size());
      for (const auto& e : c->elements) have.insert(e.canonical());
    } else {
      add_sets.push_back(nft::add_set_cmd(want, s));
      ++ch.sets_added;
    }
    if (s.filled_by_kernel) continue;  // its elements are the kernel's (flow counts)
    std::vector<nft::Element> to_add, to_del;
    wanted.reserve(s.elements.size());
    for (const auto& e : s.elements) {
      auto key = e.canonical();
      if (!have.count(key)) to_add.push_back(e);
      wanted.insert(std::move(key));
    }
    if (c) {
      for (const auto& e : c->elements)
        if (!wanted.count(e.canonical())) to_del.push_back(e);
    }
    if (!to_del.empty()) del_elems.push_back(nft::delete_elements_cmd(want, s, to_del));
    if (!to_add.empty()) add_elems.push_back(nft::add_elements_cmd(want, s, to_add));
    ch.elements_added += static_cast<int>(to_add.size());
    ch.elements_removed += static_cast<int>(to_del.size());
  }
  for (const auto& c : want.chains) {
    const nft::Chain* k = find(cur_chains, c.name);
    if (!k) {
      add_chains.push_back(nft::add_chain_cmd(want, c));
      ++ch.chains_added;
    } else if (k->signature() != c.signature()) {
      flushes.push_back(nft::flush_chain_cmd(want, c));
      ++ch.chains_changed;
    } else {
      continue;
    }
    for (const auto& r : c.rules) add_rules.push_back(nft::add_rule_cmd(want, c, r));
  }
  for (const auto& k : cur.chains) {
    if (find(want_chains, k.name)) continue;
    flushes.push_back(nft::flush_chain_cmd(cur, k));  // drop its references before deleting
    del_chains.push_back(nft::delete_chain_cmd(cur, k));
    ++ch.chains_removed;
  }
  for (const auto& s : cur.sets) {
    if (want.find_set(s.name)) continue;
    del_sets.push_back(nft::delete_set_cmd(cur, s));
    ++ch.sets_removed;
  }
  // Order matters inside the batch: objects exist before anything refers to them, and
  // references (rules, verdict map elements) are gone before their targets are deleted.
  for (auto* part : {&add_sets, &add_chains, &flushes, &del_elems, &add_elems, &add_rules,
                     &del_chains, &del_sets}) {
    for (auto& c : *part) ch.commands.push_back(std::move(c));
  }
  return ch;
}

}  // namespace vmgw
