#include "filter/serialize.h"

#include <type_traits>

namespace vmgw::filter {

std::string xml_attr_escape(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\'':
        out += "&apos;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\t':
        out += "&#9;";
        break;
      case '\n':
        out += "&#10;";
        break;
      case '\r':
        out += "&#13;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

namespace {

void attr(std::string& out, std::string_view name, const std::string& value) {
  out += ' ';
  out += name;
  out += "='";
  out += xml_attr_escape(value);
  out += '\'';
}

void write_rule(std::string& out, const Rule& r) {
  out += "  <rule";
  attr(out, "action", std::string(to_string(r.action)));
  attr(out, "direction", std::string(to_string(r.direction)));
  if (r.priority) attr(out, "priority", std::to_string(*r.priority));
  if (r.statematch) attr(out, "statematch", *r.statematch ? "true" : "false");
  if (r.log) attr(out, "log", *r.log ? "yes" : "no");
  if (r.matches.empty()) {
    out += "/>\n";
    return;
  }
  out += ">\n";
  for (const auto& m : r.matches) {
    out += "    <";
    out += to_string(m.protocol);
    if (m.match) attr(out, "match", *m.match ? "yes" : "no");
    for (const auto& [name, value] : m.attributes) attr(out, name, value.raw);
    out += "/>\n";
  }
  out += "  </rule>\n";
}

void write_ref(std::string& out, const FilterRef& ref) {
  out += "  <filterref";
  attr(out, "filter", ref.filter);
  if (ref.parameters.empty()) {
    out += "/>\n";
    return;
  }
  out += ">\n";
  for (const auto& p : ref.parameters) {
    out += "    <parameter";
    attr(out, "name", p.name);
    attr(out, "value", p.value);
    out += "/>\n";
  }
  out += "  </filterref>\n";
}

}  // namespace

std::string filter_to_xml(const Filter& f) {
  std::string out = "<filter";
  attr(out, "name", f.name);
  if (f.chain) attr(out, "chain", *f.chain);
  if (f.priority) attr(out, "priority", std::to_string(*f.priority));
  if (!f.uuid && f.entries.empty()) return out + "/>\n";
  out += ">\n";
  if (f.uuid) out += "  <uuid>" + xml_attr_escape(*f.uuid) + "</uuid>\n";
  for (const auto& e : f.entries) {
    if (const auto* r = std::get_if<Rule>(&e))
      write_rule(out, *r);
    else
      write_ref(out, std::get<FilterRef>(e));
  }
  out += "</filter>\n";
  return out;
}

}  // namespace vmgw::filter
