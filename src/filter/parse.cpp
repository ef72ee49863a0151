// The document and the <filter> element; rules and references are in parse_rule.cpp.
#include "filter/parse.h"

#include <libxml/parser.h>
#include <libxml/xmlerror.h>

#include <array>
#include <memory>

#include "filter/attributes.h"
#include "filter/parse_internal.h"

namespace vmgw::filter {

namespace detail {

void Ctx::error(const xmlNode* at, std::string path, std::string reason) {
  errors.push_back({{file, line_of(at), 0}, std::move(path), std::move(reason)});
}

std::string_view name_of(const xmlNode* n) {
  return n && n->name ? reinterpret_cast<const char*>(n->name) : "";
}

std::string_view name_of(const xmlAttr* a) {
  return a && a->name ? reinterpret_cast<const char*>(a->name) : "";
}

std::string value_of(const xmlAttr* a) {
  xmlChar* v = xmlNodeListGetString(a->doc, a->children, 1);
  if (!v) return "";
  std::string out(reinterpret_cast<const char*>(v));
  xmlFree(v);
  return out;
}

int line_of(const xmlNode* n) {
  if (!n) return 0;
  long l = xmlGetLineNo(n);
  return l > 0 && l < 1L << 30 ? static_cast<int>(l) : 0;
}

std::string did_you_mean(std::string_view name, std::span<const std::string_view> candidates) {
  auto close = similar_names(name, candidates);
  if (close.empty()) return "";
  return " (did you mean '" + std::string(close.front()) + "'?)";
}

void check_no_text(Ctx& ctx, const xmlNode* child, const std::string& path) {
  if (child->type != XML_TEXT_NODE && child->type != XML_CDATA_SECTION_NODE) return;
  const char* s = reinterpret_cast<const char*>(child->content);
  for (; s && *s; ++s)
    if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
      ctx.error(child, path, "unexpected text");
      return;
    }
}

std::optional<int> parse_priority(Ctx& ctx, const xmlNode* at, const std::string& path,
                                  std::string_view text) {
  std::string_view digits = text;
  bool negative = false;
  if (!digits.empty() && (digits[0] == '-' || digits[0] == '+')) {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  bool ok = !digits.empty() && digits.size() <= 9;
  long v = 0;
  for (char c : digits) {
    if (!ok) break;
    if (c < '0' || c > '9') ok = false;
    v = v * 10 + (c - '0');
  }
  if (!ok) {
    ctx.error(at, path, "'" + std::string(text) + "' is not an integer priority");
    return std::nullopt;
  }
  if (negative) v = -v;
  if (v < kMinPriority || v > kMaxPriority) {
    ctx.error(at, path,
              "priority " + std::string(text) + " is outside " + std::to_string(kMinPriority) +
                  ".." + std::to_string(kMaxPriority));
    return std::nullopt;
  }
  return static_cast<int>(v);
}

}  // namespace detail

namespace {

using namespace detail;

bool valid_filter_name(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (u <= ' ' || c == '/' || u == 0x7f) return false;
  }
  return true;
}

// libvirt accepts a UUID with or without the dashes: 32 hex digits.
bool valid_uuid(std::string_view s) {
  int hex = 0;
  for (char c : s) {
    if (c == '-') continue;
    bool h = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!h) return false;
    ++hex;
  }
  return hex == 32;
}

std::string trimmed_content(const xmlNode* n) {
  xmlChar* v = xmlNodeGetContent(n);
  std::string s = v ? reinterpret_cast<const char*>(v) : "";
  if (v) xmlFree(v);
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && blank(s.back())) s.pop_back();
  std::size_t i = 0;
  while (i < s.size() && blank(s[i])) ++i;
  return s.substr(i);
}

constexpr std::array<std::string_view, 3> kFilterAttrs{"name", "chain", "priority"};
constexpr std::array<std::string_view, 3> kFilterChildren{"uuid", "rule", "filterref"};

void parse_filter_element(Ctx& ctx, const xmlNode* root, Filter& f) {
  f.where.line = line_of(root);
  f.file.path = ctx.file;
  for (const xmlAttr* a = root->properties; a; a = a->next)
    if (name_of(a) == "name") f.name = value_of(a);
  const std::string path = f.name.empty() ? std::string("filter") : "filter[name=" + f.name + "]";
  bool has_name = false;
  for (const xmlAttr* a = root->properties; a; a = a->next) {
    std::string_view n = name_of(a);
    std::string v = value_of(a);
    if (n == "name") {
      has_name = true;
      if (!valid_filter_name(v))
        ctx.error(root, path + "@name",
                  "filter name '" + v + "' is empty or has blanks, '/' or control characters");
    } else if (n == "chain") {
      std::string why;
      if (!chain_prefix(v, &why)) ctx.error(root, path + "@chain", why);
      f.chain = v;
    } else if (n == "priority") {
      f.priority = parse_priority(ctx, root, path + "@priority", v);
    } else {
      ctx.error(
          root, path + "@" + std::string(n),
          "unknown attribute '" + std::string(n) + "' of <filter>" + did_you_mean(n, kFilterAttrs));
    }
  }
  if (!has_name) ctx.error(root, path, "filter has no name attribute");

  int rules = 0, refs = 0;
  bool uuid_seen = false;
  for (const xmlNode* c = root->children; c; c = c->next) {
    check_no_text(ctx, c, path);
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string_view n = name_of(c);
    if (n == "uuid") {
      std::string u = trimmed_content(c);
      if (uuid_seen) ctx.error(c, path + "/uuid", "more than one <uuid>");
      uuid_seen = true;
      if (!valid_uuid(u)) ctx.error(c, path + "/uuid", "'" + u + "' is not a UUID");
      if (c->properties)
        ctx.error(c, path + "/uuid",
                  "unknown attribute '" + std::string(name_of(c->properties)) + "' of <uuid>");
      for (const xmlNode* g = c->children; g; g = g->next)
        if (g->type == XML_ELEMENT_NODE) ctx.error(g, path + "/uuid", "unexpected element");
      f.uuid = u;
    } else if (n == "rule") {
      auto r = parse_rule(ctx, c, path + "/rule[" + std::to_string(++rules) + "]");
      if (r) f.entries.emplace_back(std::move(*r));
    } else if (n == "filterref") {
      auto r = parse_filterref(ctx, c, path + "/filterref[" + std::to_string(++refs) + "]");
      if (r) f.entries.emplace_back(std::move(*r));
    } else {
      ctx.error(c, path + "/" + std::string(n),
                "unknown element <" + std::string(n) + "> in <filter>" +
                    did_you_mean(n, kFilterChildren));
    }
  }
}

// libxml2 keeps no line for a DTD node: find "<!DOCTYPE" in the text.
Location doctype_location(const std::string& xml, const std::string& file) {
  std::size_t at = xml.find("<!DOCTYPE");
  if (at == std::string::npos) return {file, 0, 0};
  int line = 1;
  std::size_t line_start = 0;
  for (std::size_t i = 0; i < at; ++i)
    if (xml[i] == '\n') ++line, line_start = i + 1;
  return {file, line, static_cast<int>(at - line_start) + 1};
}

// libxml2 reports syntax errors through this; the collector is per call (thread_local).
thread_local Ctx* g_collecting = nullptr;

void on_xml_error(void* /*data*/, const xmlError* e) {
  if (!g_collecting || !e || e->level == XML_ERR_WARNING) return;
  std::string msg = e->message ? e->message : "XML error";
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  g_collecting->errors.push_back(
      {{g_collecting->file, e->line, e->int2}, "", "XML syntax: " + msg});
}

void on_xml_error_mutable(void* data, xmlErrorPtr e) {
  on_xml_error(data, e);
}

struct DocFree {
  void operator()(xmlDoc* d) const { xmlFreeDoc(d); }
};
struct CtxtFree {
  void operator()(xmlParserCtxt* c) const { xmlFreeParserCtxt(c); }
};

}  // namespace

ParseResult parse_filter_xml(const std::string& xml, const std::string& file) {
  Ctx ctx{file, {}};
  ParseResult result;
  if (xml.size() > kMaxFilterXmlBytes) {
    ctx.errors.push_back({{file, 0, 0}, "", "filter XML is larger than 1 MiB"});
    result.errors = std::move(ctx.errors);
    return result;
  }
  xmlInitParser();
  std::unique_ptr<xmlParserCtxt, CtxtFree> pctx(xmlNewParserCtxt());
  if (!pctx) {
    result.errors.push_back({{file, 0, 0}, "", "out of memory creating the XML parser"});
    return result;
  }
  pctx->sax->serror = on_xml_error_mutable;
  // No NOENT (entities stay unexpanded), no DTDLOAD/DTDATTR/DTDVALID, no network, no XInclude.
  const int options = XML_PARSE_NONET | XML_PARSE_BIG_LINES | XML_PARSE_NOWARNING;
  g_collecting = &ctx;
  std::unique_ptr<xmlDoc, DocFree> doc(xmlCtxtReadMemory(
      pctx.get(), xml.data(), static_cast<int>(xml.size()), file.c_str(), nullptr, options));
  g_collecting = nullptr;

  if (doc && ctx.errors.empty()) {
    if (doc->intSubset || doc->extSubset) {
      ctx.errors.push_back({doctype_location(xml, file), "",
                            "a DOCTYPE is not allowed in a filter (no DTDs or entities)"});
    } else {
      const xmlNode* root = xmlDocGetRootElement(doc.get());
      if (!root) {
        ctx.errors.push_back({{file, 0, 0}, "", "document has no root element"});
      } else if (name_of(root) != "filter") {
        ctx.error(root, std::string(name_of(root)),
                  "root element is <" + std::string(name_of(root)) + ">, expected <filter>");
      } else {
        Filter f;
        parse_filter_element(ctx, root, f);
        if (ctx.errors.empty()) result.filter = std::move(f);
      }
    }
  } else if (ctx.errors.empty()) {
    ctx.errors.push_back({{file, 0, 0}, "", "XML syntax: document could not be parsed"});
  }
  result.errors = std::move(ctx.errors);
  return result;
}

}  // namespace vmgw::filter
