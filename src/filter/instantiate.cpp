#include "filter/instantiate.h"

#include <algorithm>
#include <set>

#include "filter/attributes.h"
#include "filter/builtins.h"
#include "filter/iterate.h"
#include "filter/values.h"

namespace vmgw::filter {
namespace {

// "over the limit rules_per_vm (8192): ..." — the operator can find the limit in docs/config.md.
std::string over(const char* limit, std::size_t value, const std::string& what) {
  return "over the limit " + std::string(limit) + " (" + std::to_string(value) + "): " + what;
}

struct Expander {
  const FilterCatalog& catalog;
  const std::string& where;
  const ExpansionLimits& limits;
  Program& program;
  Diagnostics& errors;
  std::set<std::string> chains_seen;
  size_t binding = 0;
  std::size_t rules_of_binding = 0;  // rules this binding expanded into so far
  std::size_t* visits = nullptr;     // filters entered through references, all bindings
  bool stopped = false;              // a limit was hit: expand no further

  // Whether `n` more rules fit in the binding's and the VM's budgets; reports the limit if not.
  bool room_for(std::size_t n, const Filter& f, int line, const std::string& path) {
    if (rules_of_binding + n > limits.rules_per_filter) {
      error(f, line, path,
            over("rules_per_filter", limits.rules_per_filter,
                 "this filter's rules, with list variables expanded, come to more than that"));
      stopped = true;
    } else if (program.rules.size() + n > limits.rules_per_vm) {
      error(f, line, path,
            over("rules_per_vm", limits.rules_per_vm,
                 "the VM's filters, with list variables expanded, come to more than that"));
      stopped = true;
    }
    return !stopped;
  }

  bool variable_fits(const Filter& f, int line, const std::string& path, const std::string& name,
                     const std::vector<std::string>& values) {
    if (values.size() <= limits.values_per_variable) return true;
    error(f, line, path,
          over("values_per_variable", limits.values_per_variable,
               "$" + name + " has " + std::to_string(values.size()) + " values"));
    stopped = true;
    return false;
  }

  void error(const Filter& f, int line, const std::string& path, const std::string& reason) {
    errors.push_back({{f.file.path, line, 0}, where + ": " + path, reason});
  }

  void add_chain(const Filter& f) {
    std::string chain = f.effective_chain();
    if (chain == "root" || chains_seen.contains(chain)) return;
    chains_seen.insert(chain);
    program.chains.push_back({chain, f.effective_priority()});
  }

  void expand(const Filter& f, const Variables& vars, const std::string& origin, int depth) {
    // check_references() rejects loops before we get here; the bound only guards against a bug.
    if (depth > 64) {
      error(f, f.where.line, "filter[name=" + f.name + "]", "filter references nest too deeply");
      return;
    }
    add_chain(f);
    int rule_index = 0;
    for (const auto& e : f.entries) {
      if (stopped) return;
      if (const auto* ref = std::get_if<FilterRef>(&e)) {
        const Filter* child = catalog.lookup(ref->filter);
        if (!child) continue;  // reported by check_references
        if (++*visits > limits.filter_visits_per_vm) {
          error(f, f.where.line,
                "filter[name=" + f.name + "]/filterref[filter=" + ref->filter + "]",
                over("filter_visits_per_vm", limits.filter_visits_per_vm,
                     "filter references enter filters more often than that (a filter referred "
                     "to several times is entered each time)"));
          stopped = true;
          return;
        }
        Variables child_vars = vars;
        std::set<std::string> overridden;
        for (const auto& p : ref->parameters) {
          if (overridden.insert(p.name).second) child_vars[p.name].clear();
          child_vars[p.name].push_back(p.value);
        }
        for (const auto& p : ref->parameters)
          if (!variable_fits(f, f.where.line, "filter[name=" + f.name + "]", p.name,
                             child_vars[p.name]))
            return;
        expand(*child, child_vars, origin + "/" + child->name, depth + 1);
        continue;
      }
      ++rule_index;
      expand_rule(f, std::get<Rule>(e), vars, origin + " rule " + std::to_string(rule_index),
                  "filter[name=" + f.name + "]/rule[" + std::to_string(rule_index) + "]");
    }
  }

  void expand_rule(const Filter& f, const Rule& r, const Variables& vars, const std::string& origin,
                   const std::string& path) {
    ConcreteRule base;
    base.chain = f.effective_chain();
    base.priority = r.effective_priority();
    base.action = r.action;
    base.direction = r.direction;
    base.statematch = r.effective_statematch();
    base.log = r.logs();
    base.origin = origin;
    base.binding = binding;
    const ProtocolMatch* m = r.matches.empty() ? nullptr : &r.matches.front();
    if (m) {
      base.protocol = m->protocol;
      base.layer = layer_of(m->protocol);
    }
    if (base.layer == Layer::l3) base.chain = "root";
    // A VM's IP rules are found by its IPv4 address: an IPv6 packet would never meet this rule.
    // Refused rather than accepted without effect (docs/filters.md, "Not supported").
    if (m && base.layer == Layer::l3 && is_ipv6(m->protocol)) {
      error(f, m->where.line, path,
            std::string(to_string(m->protocol)) +
                " rules are not enforced by vmgw yet (a VM's IP rules are found by its IPv4 "
                "address, so IPv6 packets never reach them); filter IPv6 at layer 2 with <ipv6> "
                "rules, or leave the rule out");
      return;
    }
    if (!m) {
      if (!room_for(1, f, r.where.line, path)) return;
      program.rules.push_back(base);
      ++rules_of_binding;
      return;
    }

    // The rule's variable references, in written order, with their values. A rule's elements
    // are ANDed: their attributes form one list (all share the protocol).
    std::vector<ListRef> refs;
    std::vector<std::string> ref_attrs;  // the attribute of each reference, for messages
    bool ok = true;
    for (const ProtocolMatch& el : r.matches)
      for (const auto& [name, value] : el.attributes) {
        if (!value.var) continue;
        const VariableRef& v = *value.var;
        auto it = vars.find(v.name);
        if (it == vars.end()) {
          error(f, m->where.line, path + "@" + name,
                "variable $" + v.name + " has no value (give it as a parameter, e.g. --param " +
                    v.name + "=...)");
          ok = false;
          continue;
        }
        if (!variable_fits(f, m->where.line, path + "@" + name, v.name, it->second)) return;
        refs.push_back({v, &it->second});
        ref_attrs.push_back(name);
      }
    const Iteration iteration = iterate(refs);
    for (const auto& e : iteration.errors) {
      error(f, m->where.line, path + "@" + ref_attrs[e.ref], e.reason);
      ok = false;
    }
    for (const ProtocolMatch& el : r.matches)
      for (const auto& [name, value] : el.attributes) {
        std::string why = unsupported_attribute(m->protocol, name);
        if (!why.empty()) {
          error(f, m->where.line, path + "@" + name, why);
          ok = false;
        }
      }
    // nftables cannot compare two fields: a gratuitous ARP is matched as "target == the sender
    // address the rule names", so the rule must name one.
    bool gratuitous = false, sender = false;
    for (const ProtocolMatch& el : r.matches)
      for (const auto& [name, value] : el.attributes) {
        if (name == "gratuitous" && parse_bool(value.raw).value_or(!value.var.has_value()))
          gratuitous = true;
        if (name == "arpsrcipaddr") sender = true;
      }
    if (gratuitous && !sender) {
      error(f, m->where.line, path + "@gratuitous",
            "gratuitous='true' needs arpsrcipaddr in the same rule (vmgw matches the target "
            "address against it)");
      ok = false;
    }
    if (!ok) return;

    // Counted before a rule is made: count() saturates instead of overflowing.
    const bool shipped = is_shipped_builtin(f);
    const std::size_t combos = iteration.count();
    if (!room_for(combos, f, m->where.line, path)) return;
    rules_of_binding += combos;
    for (std::size_t c = 0; c < combos; ++c) {
      const std::vector<std::size_t> pick = iteration.pick(c);
      std::size_t ref = 0;  // references are met in the order refs was built
      ConcreteRule cr = base;
      for (const ProtocolMatch& el : r.matches)
        for (const auto& [name, value] : el.attributes) {
          Attr a{name, value.raw, value.match, !shipped};
          if (value.var) {
            a.per_vm = true;
            a.value = (*refs[ref].values)[pick[ref]];
            ++ref;
            const AttrSpec* spec = find_attribute(m->protocol, name);
            std::string why = spec ? check_literal(*spec, a.value) : "";
            if (!why.empty()) {
              error(f, m->where.line, path + "@" + name,
                    value.var->str() + " = '" + a.value + "': " + why);
              ok = false;
            }
          }
          cr.attrs.push_back(std::move(a));
        }
      if (!ok) return;
      program.rules.push_back(std::move(cr));
    }
  }
};

Variables with_params(Variables vars, const Binding& b) {
  std::set<std::string> overridden;
  for (const auto& [name, value] : b.params) {
    if (overridden.insert(name).second) vars[name].clear();
    vars[name].push_back(value);
  }
  return vars;
}

void sort_program(Program& p) {
  std::stable_sort(
      p.rules.begin(), p.rules.end(), [](const ConcreteRule& a, const ConcreteRule& b) {
        return std::tie(a.layer, a.chain, a.priority) < std::tie(b.layer, b.chain, b.priority);
      });
  std::sort(p.chains.begin(), p.chains.end(), [](const SubChain& a, const SubChain& b) {
    return std::tie(a.priority, a.name) < std::tie(b.priority, b.name);
  });
}

}  // namespace

std::string unsupported_attribute(Protocol p, std::string_view attr) {
  if (attr == "ipset" || attr == "ipsetflags")
    return "ipset is not supported: nftables has no ipsets (list the addresses in a variable "
           "instead)";
  if (attr == "option" && (p == Protocol::tcp || p == Protocol::tcp_ipv6))
    return "tcp option matching is not supported by vmgw";
  if (p == Protocol::stp && attr != "srcmacaddr" && attr != "srcmacmask" && attr != "comment" &&
      attr != "type" && attr != "flags")
    return "stp: only srcmacaddr, srcmacmask, type and flags are supported by vmgw";
  return "";
}

Instantiation instantiate(const FilterCatalog& catalog, const std::vector<Binding>& bindings,
                          const Variables& defaults, const std::string& where,
                          const ExpansionLimits& limits) {
  Instantiation out;
  if (bindings.size() > limits.filters_per_vm) {
    out.errors.push_back({{},
                          where + " filters",
                          over("filters_per_vm", limits.filters_per_vm,
                               "the VM has " + std::to_string(bindings.size()) + " filters")});
    return out;
  }
  std::size_t visits = 0;
  for (std::size_t i = 0; i < bindings.size(); ++i) {
    const Binding& b = bindings[i];
    const std::string at = where + " filter[" + std::to_string(i + 1) + "]";
    for (const auto& [name, value] : b.params) {
      if (!is_variable_name(name))
        out.errors.push_back({{}, at + ".params", "'" + name + "' is not a variable name"});
    }
    const Filter* f = catalog.lookup(b.filter);
    if (!f) {
      out.errors.push_back({{}, at, "unknown filter '" + b.filter + "'"});
      continue;
    }
    for (auto& d : catalog.check_references(b.filter)) {
      d.path = at + ": " + d.path;
      out.errors.push_back(std::move(d));
    }
    if (!out.errors.empty()) continue;
    Expander x{catalog, at, limits, out.program, out.errors, {}, i + 1};
    x.visits = &visits;
    for (const auto& c : out.program.chains) x.chains_seen.insert(c.name);
    Variables vars = with_params(defaults, b);
    for (const auto& [name, values] : vars)
      if (!x.variable_fits(*f, f->where.line, "params", name, values)) break;
    if (x.stopped) break;
    x.expand(*f, vars, f->name, 0);
    if (x.stopped) break;
  }
  if (!out.errors.empty()) out.program = {};
  sort_program(out.program);
  return out;
}

}  // namespace vmgw::filter
