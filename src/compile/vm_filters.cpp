// Per-VM filters in the kernel: rules are code, VMs are data. A VM's Program becomes, per layer
// and direction, a program: a root chain (and, for layer 2, one chain per nwfilter chain) whose
// rules never name the VM. Each value that is the VM's own (Attr::per_vm: $IP, $MAC, any
// parameter, the literals of a filter the operator wrote) is looked up, with the VM's key (its
// bridge port at layer 2, its address at the IP layer), in a set of the rule, one counter per
// element. VMs whose filters differ only in such values hold the same program; adding one adds
// elements (its membership, its values), never a chain, a rule or a jump. Dispatch: one rule per
// program in a dispatch chain (vm_l2_out, ...), `<key> @<program>-vms jump <program>`: what a
// packet costs grows with the number of distinct programs, not of VMs. Egress and ingress run in
// separate base chains so that an nwfilter `accept` of the sender's filter does not skip the
// receiver's filter.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <unordered_map>

#include "compile/compile.h"
#include "compile/filter_rules.h"
#include "compile/parts.h"

namespace vmgw::compile_detail {

namespace {

using filter::Direction;
using filter::Layer;
using nft::Json;

// The kernel concatenates a set's key in 16 registers of 4 bytes.
constexpr int kKeyBytes = 64;

// How a program's chains know the VM a packet belongs to.
struct VmKey {
  Json expr;         // meta iifname / oifname (layer 2), ip saddr / daddr (IP)
  std::string type;  // ifname, ipv4_addr
  Json value;        // the VM's port or address
};

VmKey vm_key(Layer layer, Direction d, const Vm& vm) {
  const bool out = d == Direction::out;
  if (layer == Layer::l2) return {nft::meta(out ? "iifname" : "oifname"), "ifname", vm.port};
  return {nft::payload("ip", out ? "saddr" : "daddr"), "ipv4_addr", vm.ip->str()};
}

std::string group_kind(Layer layer, Direction d) {
  return std::string(layer == Layer::l2 ? "l2" : "l3") + (d == Direction::out ? "o" : "i");
}

void add_field(std::string& k, std::string_view s) {
  k += std::to_string(s.size());
  k += ':';
  k += s;
}

// What a rule is compiled from with its per-VM values masked: rules with the same template
// hoist the same attributes (hoisting looks at names and flags only).
std::string template_key(const filter::ConcreteRule& r) {
  std::string k;
  k += std::to_string(static_cast<int>(r.layer)) + std::to_string(static_cast<int>(r.action)) +
       std::to_string(static_cast<int>(r.direction)) +
       std::to_string(r.protocol ? static_cast<int>(*r.protocol) : -1) +
       (r.statematch ? "s" : "-") + (r.log ? "l" : "-");
  add_field(k, std::to_string(r.priority));
  add_field(k, r.chain);
  add_field(k, program_origin(r));
  for (const auto& a : r.attrs) {
    add_field(k, a.name);
    k += a.match ? '=' : '!';
    if (a.per_vm)
      k += '?';
    else
      add_field(k, a.value);
  }
  return k;
}

}  // namespace

// The compile's caches (Index::filter_cache).
struct FilterCache {
  struct Template {
    std::vector<size_t> kept;  // per-VM attributes the rule names literally (not hoisted)
  };
  std::unordered_map<std::string, Template> templates;
  // By the template key plus the values of `kept`: the compiled rule (nullopt: never matches).
  std::unordered_map<std::string, std::shared_ptr<const std::optional<CompiledRule>>> rules;
  struct Program {
    std::shared_ptr<const nft::Chain> chain;
    std::shared_ptr<const ChainParts> parts;
    // Per group of rules (see build_chain): the set its values go to ("" if none) and the
    // compiled rule that says which attributes give them.
    struct Group {
      std::string set;
      std::shared_ptr<const std::optional<CompiledRule>> rule;
    };
    std::vector<Group> groups;
    // The log chains of its rules with log='yes' (drop_log.h), held with it.
    std::vector<std::shared_ptr<const nft::Chain>> log_chains;
  };
  std::unordered_map<std::string, std::shared_ptr<const Program>> chains;
};

namespace {

using Compiled = std::shared_ptr<const std::optional<CompiledRule>>;

// A rule compiled through the cache, and the key it is known by in its chain.
std::pair<Compiled, std::string> compiled(FilterCache& cache, const filter::ConcreteRule& r,
                                          int key_bytes) {
  std::string key = template_key(r);
  auto t = cache.templates.find(key);
  if (t != cache.templates.end()) {
    for (size_t i : t->second.kept) add_field(key, r.attrs[i].value);
    if (auto it = cache.rules.find(key); it != cache.rules.end()) return {it->second, key};
  }
  auto c = std::make_shared<const std::optional<CompiledRule>>(compile_rule(r, key_bytes));
  if (t == cache.templates.end()) {
    FilterCache::Template tpl;
    for (size_t i = 0; i < r.attrs.size(); ++i) {
      if (!r.attrs[i].per_vm) continue;
      bool hoisted = *c && std::any_of((*c)->fields.begin(), (*c)->fields.end(),
                                       [i](const HoistedField& f) { return f.attr == i; });
      if (!hoisted) {
        tpl.kept.push_back(i);
        add_field(key, r.attrs[i].value);
      }
    }
    cache.templates.emplace(template_key(r), std::move(tpl));
  }
  cache.rules.emplace(key, c);
  return {c, key};
}

// One entry of a chain being built: a filter rule, or a fixed rule (layer 2's jumps into its
// nwfilter chains).
struct Item {
  const filter::ConcreteRule* rule = nullptr;
  nft::Rule fixed;
};

nft::Rule filter_rule(const filter::ConcreteRule& r, Direction d, std::vector<Json> matches,
                      bool counted_per_vm, const DropLogLimit& limit,
                      std::vector<std::shared_ptr<const nft::Chain>>& log_chains) {
  RuleEnd end = rule_statements(r, d, limit, !counted_per_vm);
  for (auto& s : end.statements) matches.push_back(std::move(s));
  if (end.log_chain) log_chains.push_back(std::make_shared<const nft::Chain>(*end.log_chain));
  // The bridge family can reject only in its prerouting and input hooks: layer-2 rules run in
  // forward and output too, so their reject is a drop (as libvirt's ebtables does); the
  // comment says so in `nft list` and `vmgw filter stats`.
  bool l2_reject = r.layer == filter::Layer::l2 && r.action == filter::Action::reject;
  const std::string origin = program_origin(r);
  return {std::move(matches), l2_reject ? origin + " (reject as drop: layer 2)" : origin};
}

// Builds (or finds) a program chain from its items and adds the VM's elements to `c`. Items
// with the same key in a row (one <rule> expanded over a list variable) become one nft rule whose
// set holds every value. `suffix` names an nwfilter chain ("" for the root); `dispatch` is the
// dispatch chain of a root ("" otherwise). Returns the chain ("" name if it has no rules).
std::string build_chain(const Index& ix, const std::string& kind, const std::string& suffix,
                        const std::vector<Item>& items, Direction d, const VmKey& key,
                        const char* dispatch, Contribution& c, NftTable table) {
  if (!ix.filter_cache) ix.filter_cache = std::make_shared<FilterCache>();
  FilterCache& cache = *ix.filter_cache;
  const int key_bytes = kKeyBytes - key_bytes_of(key.type);
  // The items' keys, and the groups they form.
  std::string chain_key = kind + "|" + suffix + "|";
  std::vector<std::pair<size_t, size_t>> groups;  // [begin, end) of items
  std::vector<Compiled> rules(items.size());
  std::string last;
  const DropLogLimit& limit = ix.config.host.drop_log;
  // A logging rule's jump names its log chain, which depends on the limits: a chain that logs
  // must change its name with them, or a new limit would find it "unchanged".
  if (std::any_of(items.begin(), items.end(), [](const Item& i) { return i.rule && i.rule->log; }))
    chain_key += "log " + std::to_string(limit.rate) + "/" + std::to_string(limit.burst) + "/" +
                 std::to_string(limit.per_source) + "|";
  for (size_t i = 0; i < items.size(); ++i) {
    std::string k;
    if (items[i].rule) {
      auto [rule, rk] = compiled(cache, *items[i].rule, key_bytes);
      rules[i] = rule;
      k = "r" + rk;
    } else {
      k = "j" + items[i].fixed.comment + Json(items[i].fixed.expr).dump();
    }
    if (i == 0 || k != last || !items[i].rule) groups.push_back({i, i});
    groups.back().second = i + 1;
    chain_key += '\n';
    chain_key += k;
    last = std::move(k);
  }
  auto it = cache.chains.find(chain_key);
  if (it == cache.chains.end()) {
    char hash[24];
    std::snprintf(hash, sizeof hash, "%016llx",
                  static_cast<unsigned long long>(nft::fnv1a(chain_key)));
    const std::string name = kind + "-" + hash + (suffix.empty() ? "" : "-" + suffix);
    auto program = std::make_shared<FilterCache::Program>();
    nft::Chain chain{name, std::nullopt, {}};
    auto parts = std::make_shared<ChainParts>();
    for (const auto& [b, e] : groups) {
      FilterCache::Program::Group g;
      if (!items[b].rule) {
        chain.rules.push_back(items[b].fixed);
        program->groups.push_back(std::move(g));
        continue;
      }
      g.rule = rules[b];
      if (!*g.rule) {  // never matches: left out
        program->groups.push_back(std::move(g));
        continue;
      }
      const CompiledRule& cr = **g.rule;
      std::vector<Json> matches = cr.matches;
      if (!cr.fields.empty()) {
        g.set = name + "-r" + std::to_string(chain.rules.size() + 1);
        std::vector<Json> parts_of_key{key.expr};
        Json type = Json::array({key.type});
        for (const auto& f : cr.fields) {
          parts_of_key.push_back(f.field);
          type.push_back(f.type);
        }
        matches.push_back(nft::match(nft::concat(std::move(parts_of_key)), nft::set_ref(g.set)));
        nft::Set s;
        s.name = g.set;
        s.type = std::move(type);
        s.counter = true;
        s.comment =
            "the VMs' values of rule " + std::to_string(chain.rules.size() + 1) + " of " + name;
        parts->sets.push_back(std::move(s));
      }
      chain.rules.push_back(filter_rule(*items[b].rule, d, std::move(matches), !cr.fields.empty(),
                                        limit, program->log_chains));
      program->groups.push_back(std::move(g));
    }
    if (dispatch && !chain.rules.empty()) {
      nft::Set members;
      members.name = names::program_members(name);
      members.type = key.type;
      members.comment = "the VMs holding " + name;
      parts->sets.push_back(members);
      parts->dispatch_chain = dispatch;
      parts->dispatch = {{nft::match(key.expr, nft::set_ref(members.name)), nft::jump(name)},
                         "the VMs of " + name};
    }
    program->chain = std::make_shared<const nft::Chain>(std::move(chain));
    program->parts = std::move(parts);
    it = cache.chains.emplace(chain_key, std::move(program)).first;
  }
  const FilterCache::Program& p = *it->second;
  if (p.chain->rules.empty()) return "";
  // The VM's elements: its membership, and its values of every rule that hoists some.
  for (size_t g = 0; g < groups.size(); ++g) {
    const auto& grp = p.groups[g];
    if (grp.set.empty()) continue;
    const CompiledRule& cr = **grp.rule;
    std::vector<std::string> seen;
    for (size_t i = groups[g].first; i < groups[g].second; ++i) {
      std::vector<Json> k{key.value};
      for (const auto& f : cr.fields)
        k.push_back(hoisted_value(f.type, items[i].rule->attrs[f.attr].value));
      nft::Element e{nft::concat(std::move(k)), nullptr};
      if (groups[g].second - groups[g].first > 1) {  // a list's values may repeat
        std::string canon = e.key.dump();
        if (std::find(seen.begin(), seen.end(), canon) != seen.end()) continue;
        seen.push_back(std::move(canon));
      }
      c.elements.push_back({table, grp.set, std::move(e)});
    }
  }
  if (dispatch)
    c.elements.push_back({table, names::program_members(p.chain->name), {key.value, nullptr}});
  c.chains.push_back({table, p.chain, p.parts});
  for (const auto& lc : p.log_chains) c.chains.push_back({table, lc, nullptr});
  return p.chain->name;
}

// The IP rules of one direction: one chain.
void add_l3_program(const filter::Program& prog, Direction d, const Vm& vm, const Index& ix,
                    Contribution& c) {
  std::vector<Item> items;
  for (const auto* r : filter::rules_of(prog, Layer::l3, "root", d)) items.push_back({r, {}});
  if (items.empty()) return;
  build_chain(ix, group_kind(Layer::l3, d), "", items, d, vm_key(Layer::l3, d, vm),
              d == Direction::out ? names::kVmL3Out : names::kVmL3In, c, NftTable::inet);
}

// The layer-2 rules of one direction: a root chain and one chain per nwfilter chain, which the
// root jumps to for frames of its kind.
void add_l2_program(const filter::Program& prog, Direction d, const Vm& vm, const Index& ix,
                    Contribution& c) {
  const std::string kind = group_kind(Layer::l2, d);
  const VmKey key = vm_key(Layer::l2, d, vm);
  std::vector<Item> root;
  for (const auto& step : filter::root_steps(prog, d)) {
    if (step.rule) {
      root.push_back({step.rule, {}});
      continue;
    }
    const std::string& name = step.jump->name;
    std::vector<Item> items;
    for (const auto* r : filter::rules_of(prog, Layer::l2, name, d)) items.push_back({r, {}});
    std::string sub = build_chain(ix, kind, name, items, d, key, nullptr, c, NftTable::bridge);
    if (sub.empty()) continue;  // nothing to do there in this direction
    auto jump = chain_guard(name);
    jump.push_back(nft::jump(sub));
    root.push_back({nullptr, nft::Rule{std::move(jump), "nwfilter chain " + name}});
  }
  if (root.empty()) return;
  build_chain(ix, kind, "", root, d, key, d == Direction::out ? names::kVmL2Out : names::kVmL2In, c,
              NftTable::bridge);
}

Json ifname_set() {
  return nft::set_ref(names::kInternalIfs);
}

void add_dispatch(nft::Table& inet, nft::Table& bridge, bool any, uint32_t flows_per_vm,
                  const DropLogLimit& limit) {
  using names::kQuarantineChain;
  // Each log point's chain first: adding chains moves the table's chains.
  auto quarantine_out = logged_drop(inet, NftTable::inet, "log_quarantine_out",
                                    log_prefix("drop", "out", "quarantine"), limit);
  auto quarantine_in = logged_drop(inet, NftTable::inet, "log_quarantine_in",
                                   log_prefix("drop", "in", "quarantine"), limit);
  std::vector<Json> flow_limit;
  if (flows_per_vm > 0)
    flow_limit = logged_drop(inet, NftTable::inet, "log_flow_limit",
                             log_prefix("drop", "out", "flow limit"), limit);
  auto& q = chain_named(inet, kQuarantineChain).rules;
  Json pair_sd = nft::concat({nft::payload("ip", "saddr"), nft::payload("ip", "daddr")});
  Json pair_ds = nft::concat({nft::payload("ip", "daddr"), nft::payload("ip", "saddr")});
  q.push_back({{nft::match(pair_sd, nft::set_ref(names::kQuarantineAllow)), {{"return", nullptr}}},
               "quarantine: management traffic from the VM"});
  q.push_back({{nft::match(pair_ds, nft::set_ref(names::kQuarantineAllow)), {{"return", nullptr}}},
               "quarantine: management traffic to the VM"});
  auto with = [](std::vector<Json> matches, const std::vector<Json>& end) {
    matches.insert(matches.end(), end.begin(), end.end());
    return matches;
  };
  q.push_back({with({nft::match(nft::payload("ip", "saddr"), nft::set_ref(names::kQuarantined))},
                    quarantine_out),
               "quarantine: everything else from the VM"});
  q.push_back({with({nft::match(nft::payload("ip", "daddr"), nft::set_ref(names::kQuarantined))},
                    quarantine_in),
               "quarantine: everything else to the VM"});

  auto established = [] {
    return nft::Rule{{nft::match(nft::ct("state"), Json::array({"established", "related"}), "in"),
                      nft::accept()},
                     "flows a filter already accepted"};
  };
  // Into the quarantine chain only for a quarantined address: two lookups in a small set for
  // every packet, instead of the chain's four (two of them in an interval set).
  auto quarantine = [](std::vector<nft::Rule>& rules) {
    rules.push_back({{nft::match(nft::payload("ip", "saddr"), nft::set_ref(names::kQuarantined)),
                      nft::jump(kQuarantineChain)},
                     "quarantined VMs: from one"});
    rules.push_back({{nft::match(nft::payload("ip", "daddr"), nft::set_ref(names::kQuarantined)),
                      nft::jump(kQuarantineChain)},
                     "quarantined VMs: to one"});
  };
  auto out = [&](const char* chain) {
    auto& rules = chain_named(inet, chain).rules;
    quarantine(rules);
    if (flows_per_vm > 0) {
      // One VM must not fill the host's conntrack table: its new connections beyond the limit
      // are dropped (and logged) while its existing ones go on.
      Json count = {
          {"set",
           {{"op", "add"},
            {"elem", nft::payload("ip", "saddr")},
            {"set", nft::set_ref(names::kVmFlows)},
            {"stmt", Json::array({{{"ct count", {{"val", flows_per_vm}, {"inv", true}}}}})}}}};
      // The state first: a packet of an established flow leaves the rule at its first match.
      rules.push_back({with({nft::match(nft::ct("state"), Json::array({"new"}), "in"),
                             nft::match(nft::meta("iifname"), ifname_set()), count},
                            flow_limit),
                       "host.flows_per_vm: connections of one VM"});
    }
    if (!any) return;
    rules.push_back(established());
    rules.push_back({{nft::match(nft::meta("iifname"), ifname_set()), nft::jump(names::kVmL3Out)},
                     "the sending VM's IP filter"});
  };
  out(names::kVmOutForward);
  out(names::kVmOutInput);
  // Received: in the forward hook only. What the host itself sends to a VM (DHCP replies, its
  // own connections) meets the VM's layer-2 rules but not its IP rules, as with libvirt, whose
  // IP rules sit in FORWARD (and INPUT for what the VM sends to the host), never in OUTPUT.
  if (any) {
    auto& rules = chain_named(inet, names::kVmInForward).rules;
    rules.push_back(established());
    rules.push_back({{nft::jump(names::kVmL3In)}, "the receiving VM's IP filter"});
  }
  quarantine(chain_named(inet, names::kVmInOutput).rules);

  // Layer 2: a quarantined port may still send and receive IPv4 and ARP (cut above, by address,
  // except management); everything else (IPv6 included) stops here.
  Json not_ip_arp =
      nft::match(nft::payload("ether", "type"), nft::anonymous_set({"ip", "arp"}), "!=");
  // Frames from a quarantined port: checked in a chain of their own, entered by one lookup
  // (every frame of every port crosses it).
  auto& from_quarantined = chain_named(bridge, names::kL2QuarantineOut).rules;
  from_quarantined.push_back(
      {{not_ip_arp, nft::counter(), nft::drop()}, "quarantine: non-IPv4 frames"});
  // A quarantined VM may not send as another address: the cut by address above would otherwise
  // be sidestepped (and ARP could poison its neighbours).
  Json ip_key = nft::concat({nft::meta("iifname"), nft::payload("ip", "saddr")});
  Json arp_key = nft::concat({nft::meta("iifname"), nft::payload("arp", "saddr ip")});
  from_quarantined.push_back({{nft::match(ip_key, nft::set_ref(names::kQuarantinedPortAddrs), "!="),
                               nft::counter(), nft::drop()},
                              "quarantine: IPv4 from an address not the VM's"});
  from_quarantined.push_back(
      {{nft::match(arp_key, nft::set_ref(names::kQuarantinedPortAddrs), "!="), nft::counter(),
        nft::drop()},
       "quarantine: ARP for an address not the VM's"});
  auto l2 = [&](const char* chain, const char* dev, const char* map) {
    auto& rules = chain_named(bridge, chain).rules;
    if (std::string(dev) == "iifname") {
      rules.push_back({{nft::match(nft::meta(dev), nft::set_ref(names::kQuarantinedPorts)),
                        nft::jump(names::kL2QuarantineOut)},
                       "quarantined ports"});
    } else {
      rules.push_back({{nft::match(nft::meta(dev), nft::set_ref(names::kQuarantinedPorts)),
                        not_ip_arp, nft::counter(), nft::drop()},
                       "quarantine: non-IPv4 frames"});
    }
    rules.push_back({{nft::jump(map)}, "the VM's layer-2 filter, by port"});
  };
  l2(names::kL2OutForward, "iifname", names::kVmL2Out);
  l2(names::kL2OutInput, "iifname", names::kVmL2Out);
  l2(names::kL2InForward, "oifname", names::kVmL2In);
  l2(names::kL2InOutput, "oifname", names::kVmL2In);
}

}  // namespace

void locate_filter_errors(const Vm& vm, Diagnostics& errors) {
  for (auto& d : errors)
    if (d.where.file.empty()) d.where = vm.origin.at("filters");
}

void contribute_vm_filters(const Index& ix, const filter::FilterCatalog& catalog, const Vm& vm,
                           Contribution& c, Diagnostics* errors) {
  if (vm.quarantine) {
    c.quarantined = true;
    c.elements.push_back({NftTable::inet, names::kQuarantined, {vm.ip->str(), nullptr}});
    for (const auto& cidr : vm.quarantine->allow_from) {
      c.elements.push_back({NftTable::inet,
                            names::kQuarantineAllow,
                            {nft::concat({vm.ip->str(), nft::prefix(cidr)}), nullptr}});
    }
    if (!vm.port.empty()) {
      c.elements.push_back({NftTable::bridge, names::kQuarantinedPorts, {vm.port, nullptr}});
      c.elements.push_back({NftTable::bridge,
                            names::kQuarantinedPortAddrs,
                            {nft::concat({vm.port, vm.ip->str()}), nullptr}});
    }
  }
  if (vm.filters.empty()) return;
  c.filtered = true;
  auto inst = instantiate_vm(ix.config, vm, catalog);
  if (!inst.ok()) {
    if (!errors)
      throw std::logic_error("compile: filters of vm " + vm.name + " do not instantiate");
    locate_filter_errors(vm, inst.errors);
    errors->insert(errors->end(), inst.errors.begin(), inst.errors.end());
    return;
  }
  for (Direction d : {Direction::out, Direction::in}) {
    add_l2_program(inst.program, d, vm, ix, c);
    add_l3_program(inst.program, d, vm, ix, c);
  }
}

void compile_vm_dispatch(const Index& ix, CompileFlags flags, Plan& p) {
  add_dispatch(p.table, p.bridge_table, flags.filtered, ix.config.host.flows_per_vm,
               ix.config.host.drop_log);
  // Bridged IPv4 between two VMs reaches the inet hooks (and conntrack) only through
  // br_netfilter; turned on only when filters or quarantine need it.
  if (flags.filtered || flags.quarantined) {
    p.sysctls.push_back({"net/bridge/bridge-nf-call-iptables", "1", true});
    p.sysctls.push_back({"net/bridge/bridge-nf-call-ip6tables", "1", true});
  }
}

}  // namespace vmgw::compile_detail
