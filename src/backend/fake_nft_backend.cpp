#include "backend/fake_nft_backend.h"

#include <algorithm>

#include "nft/describe.h"
#include "nft/text.h"

namespace vmgw::backend {
namespace {

using nft::Json;

template <typename T>
T* find_named(std::vector<T>& v, const std::string& name) {
  auto it = std::find_if(v.begin(), v.end(), [&](const T& x) { return x.name == name; });
  return it == v.end() ? nullptr : &*it;
}

// Every "@set" and jump target inside a rule's expressions must exist.
void check_references(const nft::Table& t, const Json& j) {
  if (j.is_string()) {
    const auto& s = j.get_ref<const std::string&>();
    if (!s.empty() && s[0] == '@' && !t.find_set(s.substr(1)))
      throw NftError("Error: No such file or directory: set '" + s.substr(1) + "'");
    return;
  }
  if (j.is_object() && (j.contains("jump") || j.contains("goto"))) {
    const auto& target = j.contains("jump") ? j["jump"]["target"] : j["goto"]["target"];
    if (target.is_string() && !t.find_chain(target.get<std::string>()))
      throw NftError("Error: No such file or directory: chain '" + target.get<std::string>() + "'");
  }
  if (j.is_structured())
    for (const auto& x : j) check_references(t, x);
}

// A chain may not be deleted while a rule jumps to it or a verdict map element points at it.
void check_unreferenced(const nft::Table& t, const std::string& chain) {
  Json target = {{"jump", {{"target", chain}}}};
  for (const auto& s : t.sets)
    for (const auto& e : s.elements)
      if (e.value == target)
        throw NftError("Error: Device or resource busy: chain '" + chain + "'");
  for (const auto& c : t.chains)
    for (const auto& r : c.rules)
      if (Json(r.expr).dump().find("\"target\":\"" + chain + "\"") != std::string::npos)
        throw NftError("Error: Device or resource busy: chain '" + chain + "'");
}

void apply_one(std::optional<nft::Table>& state, const Json& cmd) {
  const std::string verb = cmd.begin().key();
  const Json& body = cmd.begin().value();
  const std::string kind = body.begin().key();
  const Json& o = body.begin().value();
  if (kind == "table") {
    if (verb == "add") {
      if (!state) state = nft::Table{o["family"], o["name"], {}, {}};
      return;
    }
    if (verb == "delete") {
      if (!state) throw NftError("Error: No such file or directory: table");
      state.reset();
      return;
    }
  }
  if (!state) throw NftError("Error: No such file or directory: table");
  nft::Table& t = *state;
  if (kind == "set" || kind == "map") {
    if (verb == "add") {
      if (t.find_set(o["name"])) return;
      nft::Set s;
      s.name = o["name"];
      s.type = o["type"];
      if (o.contains("map")) s.map = o["map"];
      if (o.contains("flags")) s.flags = o["flags"].get<std::vector<std::string>>();
      s.size = o.value("size", uint32_t{0});
      if (o.contains("stmt"))
        for (const auto& st : o["stmt"])
          if (st.contains("counter")) s.counter = true;
      t.sets.push_back(s);
      return;
    }
    if (verb == "delete") {
      auto it =
          std::find_if(t.sets.begin(), t.sets.end(), [&](auto& s) { return s.name == o["name"]; });
      if (it == t.sets.end()) throw NftError("Error: No such file or directory: set");
      t.sets.erase(it);
      return;
    }
  }
  if (kind == "ct helper") {
    auto it = std::find_if(t.helpers.begin(), t.helpers.end(),
                           [&](const nft::CtHelper& h) { return h.name == o["name"]; });
    if (verb == "add") {
      if (it == t.helpers.end())
        t.helpers.push_back({o["name"], o["type"], o["protocol"], o.value("l3proto", "ip")});
      return;
    }
    if (verb == "delete") {
      if (it == t.helpers.end()) throw NftError("Error: No such file or directory: ct helper");
      for (const auto& c : t.chains)
        for (const auto& r : c.rules)
          if (Json(r.expr).dump().find("{\"ct helper\":\"" + it->name + "\"}") != std::string::npos)
            throw NftError("Error: Device or resource busy: ct helper '" + it->name + "'");
      t.helpers.erase(it);
      return;
    }
  }
  if (kind == "element") {
    nft::Set* s = find_named(t.sets, o["name"].get<std::string>());
    if (!s)
      throw NftError("Error: No such file or directory: set '" + o["name"].get<std::string>() +
                     "'");
    for (const auto& e : o["elem"]) {
      nft::Element el =
          s->is_map() && verb == "add" ? nft::Element{e[0], e[1]} : nft::Element{e, nullptr};
      auto same_key = [&](const nft::Element& x) { return x.key == el.key; };
      auto it = std::find_if(s->elements.begin(), s->elements.end(), same_key);
      if (verb == "add") {
        check_references(t, el.value);
        if (it != s->elements.end() && !(it->value == el.value))
          throw NftError("Error: Could not process rule: File exists: element");
        if (it == s->elements.end()) s->elements.push_back(el);
      } else {
        if (it == s->elements.end())
          throw NftError("Error: Could not process rule: No such file or directory: element");
        s->elements.erase(it);
      }
    }
    return;
  }
  if (kind == "chain") {
    const std::string name = o["name"];
    nft::Chain* c = find_named(t.chains, name);
    if (verb == "add") {
      if (!c) {
        nft::Chain nc{name, std::nullopt, {}};
        if (o.contains("hook"))
          nc.hook = nft::Hook{o["type"], o["hook"], o["prio"], o.value("policy", "accept")};
        t.chains.push_back(nc);
      }
      return;
    }
    if (!c) throw NftError("Error: No such file or directory: chain '" + name + "'");
    if (verb == "flush") {
      c->rules.clear();
      return;
    }
    if (verb == "delete") {
      if (!c->rules.empty()) throw NftError("Error: Device or resource busy: chain '" + name + "'");
      check_unreferenced(t, name);
      t.chains.erase(t.chains.begin() + (c - t.chains.data()));
      return;
    }
  }
  if (kind == "rule" && verb == "add") {
    nft::Chain* c = find_named(t.chains, o["chain"].get<std::string>());
    if (!c)
      throw NftError("Error: No such file or directory: chain '" + o["chain"].get<std::string>() +
                     "'");
    check_references(t, o["expr"]);
    nft::Rule r;
    r.expr = o["expr"].get<std::vector<Json>>();
    auto [human, id] = nft::split_kernel_comment(o.value("comment", ""));
    r.comment = human;
    r.listed_id = id.empty() ? "!" : id;
    c->rules.push_back(r);
    return;
  }
  throw NftError("Error: unsupported command in fake: " + cmd.dump());
}

}  // namespace

std::optional<nft::Table> FakeNftBackend::read_table(const std::string& family,
                                                     const std::string& name) {
  const auto& t = family == "bridge" ? bridge_table : table;
  if (!t || t->family != family || t->name != name) return std::nullopt;
  return t;
}

void FakeNftBackend::apply(const Json& batch) {
  const Json& cmds = batch.at("nftables");
  if (!fail_next_with.empty()) {
    std::string msg = fail_next_with;
    fail_next_with.clear();
    const size_t at = std::min(fail_next_at, cmds.empty() ? 0 : cmds.size() - 1);
    throw NftError(msg, cmds.empty() ? "" : nft::describe_command(cmds[at]));
  }
  std::optional<nft::Table> copy = table, bridge_copy = bridge_table;
  for (const auto& cmd : cmds) {
    const Json& o = cmd.begin().value().begin().value();
    try {
      apply_one(o.value("family", "inet") == "bridge" ? bridge_copy : copy, cmd);
    } catch (const NftError& e) {  // like the real backend: name the command refused
      throw NftError(e.reason, nft::describe_command(cmd));
    }
  }
  table = std::move(copy);
  bridge_table = std::move(bridge_copy);
  ++batches_applied;
  batches.push_back(batch);
}

std::string FakeNftBackend::list_text(const std::string& family, const std::string& name) {
  auto t = read_table(family, name);
  return t ? nft::table_text(*t) : "";
}

}  // namespace vmgw::backend
