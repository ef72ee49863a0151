#include "nft/table.h"

#include <algorithm>
#include <cstdio>

namespace vmgw::nft {

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

namespace {

constexpr size_t kIdLength = 12;
constexpr size_t kMaxComment = 127;  // libnftnl's NFTNL_UDATA_COMMENT_MAXLEN minus the NUL

Json object_ref(const Table& t, const std::string& name) {
  return {{"family", t.family}, {"table", t.name}, {"name", name}};
}

Json element_json(const Set& s, const Element& e) {
  if (s.is_map()) return Json::array({e.key, e.value});
  return e.key;
}

}  // namespace

std::string Element::canonical() const {
  return value.is_null() ? key.dump() : key.dump() + " : " + value.dump();
}

bool Set::same_declaration(const Set& o) const {
  return name == o.name && type == o.type && map == o.map && flags == o.flags && size == o.size &&
         counter == o.counter;
}

std::string Rule::id() const {
  if (!listed_id.empty()) return listed_id;
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(fnv1a(Json(expr).dump())));
  return std::string(buf, kIdLength);
}

std::string kernel_string(std::string_view text, size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes));
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    out += c == '"' ? '\'' : c == '$' ? '_' : c == '\\' ? '/' : (u < 0x20 || u == 0x7f) ? '?' : c;
  }
  if (out.size() <= max_bytes) return out;
  size_t cut = max_bytes;
  // Back to the first byte of a character (continuation bytes are 10xxxxxx).
  while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
  out.resize(cut);
  return out;
}

std::string Rule::kernel_comment() const {
  const std::string suffix = "#" + id();
  const std::string human = kernel_string(comment, kMaxComment - 1 - suffix.size());
  return human.empty() ? suffix : human + " " + suffix;
}

std::pair<std::string, std::string> split_kernel_comment(const std::string& comment) {
  auto hash = comment.rfind('#');
  if (hash == std::string::npos || comment.size() - hash - 1 != kIdLength) return {comment, ""};
  std::string human = comment.substr(0, hash);
  if (!human.empty() && human.back() == ' ') human.pop_back();
  return {human, comment.substr(hash + 1)};
}

std::vector<std::string> Chain::signature() const {
  std::vector<std::string> ids;
  ids.reserve(rules.size());
  for (const auto& r : rules) ids.push_back(r.id());
  return ids;
}

const Set* Table::find_set(const std::string& n) const {
  for (const auto& s : sets)
    if (s.name == n) return &s;
  return nullptr;
}

const Chain* Table::find_chain(const std::string& n) const {
  for (const auto& c : chains)
    if (c.name == n) return &c;
  return nullptr;
}

Json add_table_cmd(const Table& t) {
  return {{"add", {{"table", {{"family", t.family}, {"name", t.name}}}}}};
}
Json delete_table_cmd(const Table& t) {
  return {{"delete", {{"table", {{"family", t.family}, {"name", t.name}}}}}};
}

Json add_set_cmd(const Table& t, const Set& s) {
  Json o = object_ref(t, s.name);
  o["type"] = s.type;
  if (s.is_map()) o["map"] = s.map;
  if (!s.flags.empty()) o["flags"] = s.flags;
  if (s.size != 0) o["size"] = s.size;
  if (s.counter) o["stmt"] = Json::array({{{"counter", nullptr}}});
  return {{"add", {{s.is_map() ? "map" : "set", o}}}};
}

Json delete_set_cmd(const Table& t, const Set& s) {
  return {{"delete", {{s.is_map() ? "map" : "set", object_ref(t, s.name)}}}};
}

Json add_elements_cmd(const Table& t, const Set& s, const std::vector<Element>& e) {
  Json o = object_ref(t, s.name);
  Json elems = Json::array();
  for (const auto& x : e) elems.push_back(element_json(s, x));
  o["elem"] = elems;
  return {{"add", {{"element", o}}}};
}

Json delete_elements_cmd(const Table& t, const Set& s, const std::vector<Element>& e) {
  Json o = object_ref(t, s.name);
  Json elems = Json::array();
  for (const auto& x : e) elems.push_back(x.key);  // maps are deleted by key
  o["elem"] = elems;
  return {{"delete", {{"element", o}}}};
}

Json add_helper_cmd(const Table& t, const CtHelper& h) {
  Json o = object_ref(t, h.name);
  o["type"] = h.type;
  o["protocol"] = h.protocol;
  o["l3proto"] = h.l3proto;
  return {{"add", {{"ct helper", o}}}};
}

Json delete_helper_cmd(const Table& t, const CtHelper& h) {
  return {{"delete", {{"ct helper", object_ref(t, h.name)}}}};
}

Json add_chain_cmd(const Table& t, const Chain& c) {
  Json o = {{"family", t.family}, {"table", t.name}, {"name", c.name}};
  if (c.hook) {
    o["type"] = c.hook->type;
    o["hook"] = c.hook->hook;
    o["prio"] = c.hook->priority;
    o["policy"] = c.hook->policy;
  }
  return {{"add", {{"chain", o}}}};
}

Json flush_chain_cmd(const Table& t, const Chain& c) {
  return {{"flush", {{"chain", {{"family", t.family}, {"table", t.name}, {"name", c.name}}}}}};
}

Json delete_chain_cmd(const Table& t, const Chain& c) {
  return {{"delete", {{"chain", {{"family", t.family}, {"table", t.name}, {"name", c.name}}}}}};
}

Json add_rule_cmd(const Table& t, const Chain& c, const Rule& r) {
  return {{"add",
           {{"rule",
             {{"family", t.family},
              {"table", t.name},
              {"chain", c.name},
              {"comment", r.kernel_comment()},
              {"expr", r.expr}}}}}};
}

std::vector<Json> create_all_cmds(const Table& t) {
  std::vector<Json> cmds;
  cmds.push_back(add_table_cmd(t));
  for (const auto& h : t.helpers) cmds.push_back(add_helper_cmd(t, h));
  for (const auto& s : t.sets) cmds.push_back(add_set_cmd(t, s));
  // Chains before anything that jumps to them (rules, verdict map elements).
  for (const auto& c : t.chains) cmds.push_back(add_chain_cmd(t, c));
  for (const auto& s : t.sets)
    if (!s.elements.empty()) cmds.push_back(add_elements_cmd(t, s, s.elements));
  for (const auto& c : t.chains)
    for (const auto& r : c.rules) cmds.push_back(add_rule_cmd(t, c, r));
  return cmds;
}

}  // namespace vmgw::nft
