#include "nft/describe.h"

#include "nft/table.h"

namespace vmgw::nft {
namespace {

// An element as nft prints it: plain keys as they are, concatenations joined by " . ", maps by
// their key (the value is what the map does with it, not what it is).
std::string element_text(const Json& e) {
  if (e.is_string()) return e.get<std::string>();
  if (e.is_number()) return e.dump();
  if (e.is_array() && e.size() == 2) return element_text(e[0]);  // [key, value] of a map
  if (e.is_object() && e.contains("concat") && e["concat"].is_array()) {
    std::string out;
    for (const auto& part : e["concat"]) out += (out.empty() ? "" : " . ") + element_text(part);
    return out;
  }
  if (e.is_object() && e.contains("elem")) return element_text(e["elem"]);
  if (e.is_object() && e.contains("val")) return element_text(e["val"]);
  if (e.is_object() && e.contains("prefix") && e["prefix"].is_object())
    return element_text(e["prefix"].value("addr", Json())) + "/" +
           e["prefix"].value("len", Json(0)).dump();
  if (e.is_object() && e.contains("range") && e["range"].is_array() && e["range"].size() == 2)
    return element_text(e["range"][0]) + "-" + element_text(e["range"][1]);
  std::string s = e.dump();
  return s.size() > 60 ? s.substr(0, 57) + "..." : s;
}

std::string where(const Json& o) {
  return o.value("family", std::string("?")) + " " + o.value("table", std::string("?"));
}

}  // namespace

std::string describe_command(const Json& cmd) {
  if (!cmd.is_object() || cmd.size() != 1 || !cmd.begin().value().is_object() ||
      cmd.begin().value().size() != 1)
    return "a malformed command";
  const std::string verb = cmd.begin().key();
  const std::string kind = cmd.begin().value().begin().key();
  const Json& o = cmd.begin().value().begin().value();
  if (!o.is_object()) return verb + " " + kind;
  const std::string name = o.value("name", std::string());
  if (kind == "table") return verb + " table " + o.value("family", std::string("?")) + " " + name;
  if (kind == "element") {
    std::string elems;
    if (o.contains("elem") && o["elem"].is_array() && !o["elem"].empty()) {
      elems = " " + element_text(o["elem"][0]);
      if (o["elem"].size() > 1) elems += " (and " + std::to_string(o["elem"].size() - 1) + " more)";
    }
    return verb + " element" + elems + (verb == "delete" ? " from " : " to ") + "set " + where(o) +
           " " + name;
  }
  if (kind == "rule") {
    auto [comment, id] = split_kernel_comment(o.value("comment", std::string()));
    return verb + " rule" + (comment.empty() ? "" : " '" + comment + "'") + " in chain " +
           where(o) + " " + o.value("chain", std::string("?"));
  }
  return verb + " " + kind + " " + where(o) + " " + name;
}

}  // namespace vmgw::nft
