// <rule> with its protocol elements, and <filterref> with its parameters.
#include <array>
#include <string>
#include <vector>

#include "filter/attributes.h"
#include "filter/parse_internal.h"
#include "filter/values.h"

namespace vmgw::filter::detail {

namespace {

constexpr std::array<std::string_view, 5> kRuleAttrs{"action", "direction", "priority",
                                                     "statematch", "log"};
constexpr std::array<std::string_view, 5> kActionNames{"accept", "drop", "reject", "return",
                                                       "continue"};
constexpr std::array<std::string_view, 24> kProtocolNames{
    "mac",          "vlan",      "stp",    "arp",      "rarp",     "ip",
    "ipv6",         "tcp",       "udp",    "udplite",  "sctp",     "icmp",
    "igmp",         "esp",       "ah",     "all",      "tcp-ipv6", "udp-ipv6",
    "udplite-ipv6", "sctp-ipv6", "icmpv6", "esp-ipv6", "ah-ipv6",  "all-ipv6"};

std::string list(std::span<const std::string_view> names) {
  std::string out;
  for (auto n : names) out += (out.empty() ? "" : ", ") + std::string(n);
  return out;
}

bool is_ip_family(Protocol p) {
  return p == Protocol::ip || p == Protocol::ipv6;
}

// Checks that only need one element: ipsetflags needs ipset, ports on ip/ipv6 need protocol,
// literal ranges are not reversed.
void check_relations(Ctx& ctx, const xmlNode* node, const std::string& path,
                     const ProtocolMatch& m) {
  if (m.find("ipsetflags") && !m.find("ipset"))
    ctx.error(node, path + "@ipsetflags", "ipsetflags requires ipset");
  if (is_ip_family(m.protocol) && !m.find("protocol")) {
    for (auto port : {"srcportstart", "srcportend", "dstportstart", "dstportend"})
      if (m.find(port))
        ctx.error(node, path + "@" + port, std::string(port) + " requires the protocol attribute");
  }
  for (auto [lo, hi] :
       {std::pair{"srcportstart", "srcportend"}, std::pair{"dstportstart", "dstportend"}}) {
    const AttrValue* a = m.find(lo);
    const AttrValue* b = m.find(hi);
    if (!a || !b || a->var || b->var) continue;
    auto x = parse_uint(a->raw, true), y = parse_uint(b->raw, true);
    if (x && y && *y < *x)
      ctx.error(node, path + "@" + hi,
                std::string(hi) + " " + b->raw + " is below " + lo + " " + a->raw);
  }
}

std::optional<ProtocolMatch> parse_match(Ctx& ctx, const xmlNode* node, Protocol p,
                                         const std::string& path) {
  ProtocolMatch m;
  m.protocol = p;
  m.where.line = line_of(node);
  std::size_t before = ctx.errors.size();
  for (const xmlAttr* a = node->properties; a; a = a->next) {
    std::string_view n = name_of(a);
    std::string v = value_of(a);
    std::string at = path + "@" + std::string(n);
    if (n == "match") {
      if (v == "yes")
        m.match = true;
      else if (v == "no")
        m.match = false;
      else
        ctx.error(node, at, "match must be 'yes' or 'no', not '" + v + "'");
      continue;
    }
    const AttrSpec* spec = find_attribute(p, n);
    if (!spec) {
      auto close = similar_attributes(p, n);
      std::string hint = close.empty() ? "" : " (did you mean '" + std::string(close[0]) + "'?)";
      ctx.error(node, at,
                "unknown attribute '" + std::string(n) + "' for <" + std::string(to_string(p)) +
                    ">" + hint);
      continue;
    }
    AttrValue value{v, std::nullopt, true};
    if (spec->type != ValueType::string) {
      std::string err;
      value.var = parse_variable_ref(v, err);
      if (!err.empty()) {
        ctx.error(node, at, err);
        continue;
      }
      // Written back in one spelling, as libvirt does: `$A[ 0]` is `$A[0]`, `$B[ @0 ]` is `$B`.
      if (value.var) value.raw = value.var->str();
    }
    if (!value.var) {
      if (auto err = check_literal(*spec, v); !err.empty()) {
        ctx.error(node, at, err);
        continue;
      }
    }
    m.attributes.emplace_back(std::string(n), std::move(value));
  }
  // match='no' negates every attribute except masks, which qualify an address.
  if (m.negated())
    for (auto& [n, v] : m.attributes) {
      const AttrSpec* spec = find_attribute(p, n);
      v.match = spec && spec->is_mask();
    }
  check_relations(ctx, node, path, m);
  for (const xmlNode* c = node->children; c; c = c->next) {
    check_no_text(ctx, c, path);
    if (c->type == XML_ELEMENT_NODE)
      ctx.error(c, path + "/" + std::string(name_of(c)),
                "unexpected element <" + std::string(name_of(c)) + "> inside <" +
                    std::string(to_string(p)) + ">");
  }
  if (ctx.errors.size() != before) return std::nullopt;
  return m;
}

}  // namespace

std::optional<Rule> parse_rule(Ctx& ctx, const xmlNode* node, const std::string& path) {
  Rule r;
  r.where.line = line_of(node);
  std::size_t before = ctx.errors.size();
  bool has_action = false, has_direction = false;
  for (const xmlAttr* a = node->properties; a; a = a->next) {
    std::string_view n = name_of(a);
    std::string v = value_of(a);
    std::string at = path + "@" + std::string(n);
    if (n == "action") {
      has_action = true;
      if (auto x = parse_action(v))
        r.action = *x;
      else
        ctx.error(node, at,
                  "bad action '" + v + "' (one of " + list(kActionNames) + ")" +
                      did_you_mean(v, kActionNames));
    } else if (n == "direction") {
      has_direction = true;
      if (auto x = parse_direction(v))
        r.direction = *x;
      else
        ctx.error(node, at, "bad direction '" + v + "' (one of in, out, inout)");
    } else if (n == "priority") {
      r.priority = parse_priority(ctx, node, at, v);
    } else if (n == "statematch") {
      if (auto b = parse_bool(v))
        r.statematch = *b;
      else
        ctx.error(node, at, "statematch must be true or false, not '" + v + "'");
    } else if (n == "log") {
      if (v == "yes" || v == "no")
        r.log = v == "yes";
      else
        ctx.error(node, at, "log must be 'yes' or 'no', not '" + v + "'");
    } else {
      ctx.error(
          node, at,
          "unknown attribute '" + std::string(n) + "' of <rule>" + did_you_mean(n, kRuleAttrs));
    }
  }
  if (!has_action) ctx.error(node, path, "rule has no action attribute");
  if (!has_direction) ctx.error(node, path, "rule has no direction attribute");

  for (const xmlNode* c = node->children; c; c = c->next) {
    check_no_text(ctx, c, path);
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string_view n = name_of(c);
    auto p = parse_protocol(n);
    if (!p) {
      ctx.error(
          c, path + "/" + std::string(n),
          "unknown protocol element <" + std::string(n) + ">" + did_you_mean(n, kProtocolNames));
      continue;
    }
    int same = 1;
    for (const auto& m : r.matches) same += m.protocol == *p ? 1 : 0;
    std::string mpath =
        path + "/" + std::string(n) + (same > 1 ? "[" + std::to_string(same) + "]" : "");
    if (!r.matches.empty() && r.matches.front().protocol != *p) {
      ctx.error(c, mpath,
                "a rule matches one protocol: <" + std::string(n) + "> after <" +
                    std::string(to_string(r.matches.front().protocol)) + ">");
      continue;
    }
    if (auto m = parse_match(ctx, c, *p, mpath)) r.matches.push_back(std::move(*m));
  }
  if (ctx.errors.size() != before) return std::nullopt;
  return r;
}

std::optional<FilterRef> parse_filterref(Ctx& ctx, const xmlNode* node, const std::string& path) {
  FilterRef ref;
  ref.where.line = line_of(node);
  std::size_t before = ctx.errors.size();
  bool has_filter = false;
  for (const xmlAttr* a = node->properties; a; a = a->next) {
    std::string_view n = name_of(a);
    if (n == "filter") {
      has_filter = true;
      ref.filter = value_of(a);
      if (ref.filter.empty()) ctx.error(node, path + "@filter", "filter name is empty");
    } else {
      ctx.error(node, path + "@" + std::string(n),
                "unknown attribute '" + std::string(n) + "' of <filterref> (only 'filter')");
    }
  }
  if (!has_filter) ctx.error(node, path, "filterref has no filter attribute");

  int index = 0;
  for (const xmlNode* c = node->children; c; c = c->next) {
    check_no_text(ctx, c, path);
    if (c->type != XML_ELEMENT_NODE) continue;
    std::string_view n = name_of(c);
    if (n != "parameter") {
      ctx.error(c, path + "/" + std::string(n),
                "unknown element <" + std::string(n) + "> in <filterref> (only <parameter>)");
      continue;
    }
    std::string ppath = path + "/parameter[" + std::to_string(++index) + "]";
    Parameter param;
    bool has_name = false, has_value = false;
    for (const xmlAttr* a = c->properties; a; a = a->next) {
      std::string_view an = name_of(a);
      if (an == "name") {
        has_name = true;
        param.name = value_of(a);
        if (!is_variable_name(param.name))
          ctx.error(c, ppath + "@name",
                    "'" + param.name + "' is not a variable name (letters, digits and '_')");
      } else if (an == "value") {
        has_value = true;
        param.value = value_of(a);
      } else {
        ctx.error(c, ppath + "@" + std::string(an),
                  "unknown attribute '" + std::string(an) + "' of <parameter>");
      }
    }
    if (!has_name) ctx.error(c, ppath, "parameter has no name attribute");
    if (!has_value) ctx.error(c, ppath, "parameter has no value attribute");
    for (const xmlNode* g = c->children; g; g = g->next)
      if (g->type == XML_ELEMENT_NODE) ctx.error(g, ppath, "unexpected element in <parameter>");
    ref.parameters.push_back(std::move(param));
  }
  if (ctx.errors.size() != before) return std::nullopt;
  return ref;
}

}  // namespace vmgw::filter::detail
