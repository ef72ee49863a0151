// Per-VM filters in the kernel. Each VM's Program becomes, per layer and direction, a group of
// chains (a root and, for layer 2, its sub-chains), each named by a hash of its content so that
// VMs whose filters compile to the same rules share the chains. Layer-2 rules that name the
// VM's own MAC or address look them up by bridge port instead, so VMs bound to the same filters
// (clean-traffic) share their layer-2 chains however many there are: the kernel holds few
// chains, and a change adds elements. Dispatch is one verdict-map lookup per packet: by bridge
// port in the bridge table (layer 2), by VM address in the inet table (IP, after conntrack lets
// established flows through). Egress and ingress run in separate base chains so that an
// nwfilter `accept` of the sender's filter does not skip the receiver's filter.
#include <algorithm>
#include <cstdio>
#include <functional>

#include "compile/compile.h"
#include "compile/filter_rules.h"
#include "compile/parts.h"

namespace vmgw::compile_detail {
namespace {

using filter::Direction;
using filter::Layer;
using nft::Json;

nft::Rule filter_rule(const filter::ConcreteRule& r, Direction d, std::vector<Json> matches) {
  for (auto& s : rule_statements(r, d)) matches.push_back(std::move(s));
  // The bridge family can reject only in its prerouting and input hooks: layer-2 rules run in
  // forward and output too, so their reject is a drop (as libvirt's ebtables does); the
  // comment says so in `nft list` and `vmgw filter stats`.
  bool l2_reject = r.layer == filter::Layer::l2 && r.action == filter::Action::reject;
  return {std::move(matches), l2_reject ? r.origin + " (reject as drop: layer 2)" : r.origin};
}

// The VM's own MAC and address, as the compiled rules write them, and the device its frames are
// dispatched by (iifname for what it sends, oifname for what it receives).
struct Own {
  std::string dev;
  std::string mac_text, ip_text;
  uint64_t mac_number = 0, ip_number = 0;
};

Own own_values(const Vm& vm, Direction d) {
  Own o;
  o.dev = d == Direction::out ? "iifname" : "oifname";
  o.mac_text = vm.mac->str();
  for (auto b : vm.mac->bytes) o.mac_number = (o.mac_number << 8) | b;
  o.ip_text = vm.ip->str();
  o.ip_number = vm.ip->value;
  return o;
}

Json nh_field(int offset, int len) {
  return {{"payload", {{"base", "nh"}, {"offset", offset}, {"len", len}}}};
}

// A layer-2 rule's matches of the VM's own MAC or address become lookups of the frame's port in
// port_macs / port_addrs: for frames of this VM's port (the only ones its chains see) the two
// are the same test, and the chains no longer hold anything of the VM, so VMs with the same
// filters share them. ARP fields are matched typed for that (the rule's `ether type arp`
// already holds); RARP fields have no type in nft, so rules on them keep their literals.
void look_up_own_values(std::vector<Json>& matches, const Own& own) {
  const Json ether_arp = nft::match(nft::payload("ether", "type"), 0x0806);
  const bool arp = std::find(matches.begin(), matches.end(), ether_arp) != matches.end();
  for (auto& m : matches) {
    if (!m.contains("match")) continue;
    const Json& left = m["match"]["left"];
    const Json& right = m["match"]["right"];
    Json field;
    const char* set = nullptr;
    for (const char* f : {"saddr", "daddr"}) {
      if (left == nft::payload("ether", f) && right == own.mac_text) {
        field = left;
        set = names::kPortMacs;
      } else if (left == nft::payload("ip", f) && right == own.ip_text) {
        field = left;
        set = names::kPortAddrs;
      }
    }
    if (arp) {
      if ((left == nh_field(64, 48) || left == nh_field(144, 48)) && right == own.mac_number) {
        field = nft::payload("arp", left == nh_field(64, 48) ? "saddr ether" : "daddr ether");
        set = names::kPortMacs;
      } else if ((left == nh_field(112, 32) || left == nh_field(192, 32)) &&
                 right == own.ip_number) {
        field = nft::payload("arp", left == nh_field(112, 32) ? "saddr ip" : "daddr ip");
        set = names::kPortAddrs;
      }
    }
    if (!set) continue;
    m = nft::match(nft::concat({nft::meta(own.dev), field}), nft::set_ref(set),
                   m["match"]["op"].get<std::string>());
  }
}

// Whether the compiled rules still name the VM's MAC or address (as text or as a number).
bool names_own_values(const Json& j, const Own& own) {
  if (j.is_string()) return j == own.mac_text || j == own.ip_text;
  if (j.is_number_unsigned() || j.is_number_integer())
    return j == own.mac_number || j == own.ip_number;
  if (j.is_structured())
    for (const auto& x : j)
      if (names_own_values(x, own)) return true;
  return false;
}

// What a filter chain is compiled from, the VM's own MAC and address masked: two VMs whose rules
// give the same key get the same chain once their own values are looked up by port, if the
// chain names neither (a chain that still names them is per VM and not cached).
std::string chain_key(const std::string& kind, const std::string& chain,
                      const std::vector<const filter::ConcreteRule*>& rules, const Own& own) {
  std::string k = kind + "|" + chain + "|" + own.dev;
  auto field = [&k](std::string_view s) {
    k += std::to_string(s.size());
    k += ':';
    k += s;
  };
  for (const auto* r : rules) {
    k += '\n';
    k += std::to_string(static_cast<int>(r->layer)) + std::to_string(static_cast<int>(r->action)) +
         std::to_string(static_cast<int>(r->direction)) +
         std::to_string(r->protocol ? static_cast<int>(*r->protocol) : -1) +
         (r->statematch ? "s" : "-") + (r->log ? "l" : "-");
    field(std::to_string(r->priority));
    field(r->chain);
    field(r->origin);
    for (const auto& a : r->attrs) {
      field(a.name);
      k += a.match ? '=' : '!';
      if (!own.mac_text.empty() && a.value == own.mac_text)
        k += "$MAC";
      else if (!own.ip_text.empty() && a.value == own.ip_text)
        k += "$IP";
      else
        field(a.value);
    }
  }
  return k;
}

bool names_own_values(const std::vector<nft::Rule>& rules, const Own& own) {
  for (const auto& r : rules)
    for (const auto& x : r.expr)
      if (names_own_values(x, own)) return true;
  return false;
}

// A chain named by its kind, a hash of its rules and (for nwfilter chains) their name: chains of
// the same content have the same name, so they are shared.
nft::Chain named_chain(const std::string& kind, const std::string& suffix,
                       std::vector<nft::Rule> rules) {
  Json content = Json::array();
  for (const auto& r : rules) content.push_back(r.expr);
  char hash[24];
  std::snprintf(hash, sizeof hash, "%016llx",
                static_cast<unsigned long long>(nft::fnv1a(content.dump())));
  return {kind + "-" + hash + (suffix.empty() ? "" : "-" + suffix), std::nullopt, std::move(rules)};
}

std::string group_kind(Layer layer, Direction d) {
  return std::string(layer == Layer::l2 ? "l2" : "l3") + (d == Direction::out ? "o" : "i");
}

// The IP rules of one direction: one chain. Returns its name ("" if there are none: no
// dispatch either).
std::string add_l3_group(const filter::Program& prog, Direction d, const Index& ix,
                         Contribution& c) {
  const std::string kind = group_kind(Layer::l3, d);
  auto rules = filter::rules_of(prog, Layer::l3, "root", d);
  if (rules.empty()) return "";
  // IP rules keep their values (nothing is looked up by port): the key masks nothing.
  const std::string key = chain_key(kind, "root", rules, Own{});
  auto it = ix.chain_cache.find(key);
  if (it == ix.chain_cache.end()) {
    std::vector<nft::Rule> out;
    for (const auto* r : rules)
      if (auto m = rule_matches(*r)) out.push_back(filter_rule(*r, d, std::move(*m)));
    auto chain = std::make_shared<const nft::Chain>(named_chain(kind, "", std::move(out)));
    it = ix.chain_cache.emplace(key, std::move(chain)).first;
  }
  if (it->second->rules.empty()) return "";  // no IP rules this way: no dispatch either
  c.chains.push_back({NftTable::inet, it->second});
  return it->second->name;
}

// The layer-2 rules of one direction: a root chain and one chain per nwfilter chain, which the
// root jumps to for frames of its kind. The VM's own values are looked up by port, so these
// chains are shared by the VMs with the same filters; a RARP chain that still names the VM
// (nft cannot look RARP fields up) is reached through the VM's element in vm_rarp_out/-in, so
// the root stays shared. Returns the root's name ("" if there is nothing to do).
std::string add_l2_group(const filter::Program& prog, Direction d, const Vm& vm, const Index& ix,
                         Contribution& c) {
  const std::string kind = group_kind(Layer::l2, d);
  const Own own = own_values(vm, d);
  auto compiled = [&](const filter::ConcreteRule& r) -> std::optional<nft::Rule> {
    auto m = rule_matches(r);
    if (!m) return std::nullopt;
    look_up_own_values(*m, own);
    return filter_rule(r, d, std::move(*m));
  };
  // A chain from its rules, through the compile's cache: shared chains are built once.
  auto chain_of = [&](const std::string& key, const std::string& suffix,
                      const std::function<std::vector<nft::Rule>()>& build) {
    if (auto it = ix.chain_cache.find(key); it != ix.chain_cache.end()) return it->second;
    auto rules = build();
    const bool per_vm = names_own_values(rules, own);
    auto chain = std::make_shared<const nft::Chain>(named_chain(kind, suffix, std::move(rules)));
    if (!per_vm) ix.chain_cache.emplace(key, chain);
    return chain;
  };
  std::vector<const filter::ConcreteRule*> root_rules;  // for the root's key
  std::string root_key = "root";
  bool rarp_by_port = false;
  std::vector<std::function<std::optional<nft::Rule>()>> root_steps;
  for (const auto& step : filter::root_steps(prog, d)) {
    if (step.rule) {
      root_rules.push_back(step.rule);
      root_key += "\nrule";
      root_steps.push_back([&, r = step.rule] { return compiled(*r); });
      continue;
    }
    const std::string& name = step.jump->name;
    auto rules = filter::rules_of(prog, Layer::l2, name, d);
    auto sub = chain_of(chain_key(kind, name, rules, own), name, [&] {
      std::vector<nft::Rule> out;
      for (const auto* r : rules)
        if (auto x = compiled(*r)) out.push_back(std::move(*x));
      return out;
    });
    if (sub->rules.empty()) continue;  // nothing to do there in this direction
    auto jump = chain_guard(name);
    const bool by_port =
        !rarp_by_port && name.rfind("rarp", 0) == 0 && names_own_values(sub->rules, own);
    if (by_port) {
      rarp_by_port = true;
      const char* map = d == Direction::out ? names::kVmRarpOut : names::kVmRarpIn;
      jump.push_back(nft::vmap(nft::meta(own.dev), map));
      c.elements.push_back({NftTable::bridge, map, {vm.port, nft::jump(sub->name)}});
      root_key += "\nby-port " + name;
    } else {
      jump.push_back(nft::jump(sub->name));
      root_key += "\njump " + sub->name;
    }
    root_steps.push_back([jump = std::move(jump), name]() -> std::optional<nft::Rule> {
      return nft::Rule{jump, "nwfilter chain " + name};
    });
    c.chains.push_back({NftTable::bridge, std::move(sub)});
  }
  if (root_steps.empty()) return "";
  auto root = chain_of(chain_key(kind, root_key, root_rules, own), "", [&] {
    std::vector<nft::Rule> out;
    for (const auto& step : root_steps)
      if (auto r = step()) out.push_back(std::move(*r));
    return out;
  });
  if (root->rules.empty()) return "";
  std::string name = root->name;
  c.chains.push_back({NftTable::bridge, std::move(root)});
  return name;
}

Json ifname_set() {
  return nft::set_ref(names::kInternalIfs);
}

void add_dispatch(nft::Table& inet, nft::Table& bridge, bool any, uint32_t flows_per_vm) {
  using names::kQuarantineChain;
  auto& q = chain_named(inet, kQuarantineChain).rules;
  Json pair_sd = nft::concat({nft::payload("ip", "saddr"), nft::payload("ip", "daddr")});
  Json pair_ds = nft::concat({nft::payload("ip", "daddr"), nft::payload("ip", "saddr")});
  q.push_back({{nft::match(pair_sd, nft::set_ref(names::kQuarantineAllow)), {{"return", nullptr}}},
               "quarantine: management traffic from the VM"});
  q.push_back({{nft::match(pair_ds, nft::set_ref(names::kQuarantineAllow)), {{"return", nullptr}}},
               "quarantine: management traffic to the VM"});
  q.push_back(
      {{nft::match(nft::payload("ip", "saddr"), nft::set_ref(names::kQuarantined)), nft::counter(),
        log_to_daemon(log_prefix("drop", "out", "quarantine")), nft::drop()},
       "quarantine: everything else from the VM"});
  q.push_back({{nft::match(nft::payload("ip", "daddr"), nft::set_ref(names::kQuarantined)),
                nft::counter(), log_to_daemon(log_prefix("drop", "in", "quarantine")), nft::drop()},
               "quarantine: everything else to the VM"});

  auto established = [] {
    return nft::Rule{{nft::match(nft::ct("state"), Json::array({"established", "related"}), "in"),
                      nft::accept()},
                     "flows a filter already accepted"};
  };
  auto out = [&](const char* chain) {
    auto& rules = chain_named(inet, chain).rules;
    rules.push_back({{nft::jump(kQuarantineChain)}, "quarantined VMs"});
    if (flows_per_vm > 0) {
      // One VM must not fill the host's conntrack table: its new connections beyond the limit
      // are dropped (and logged) while its existing ones go on.
      Json count = {
          {"set",
           {{"op", "add"},
            {"elem", nft::payload("ip", "saddr")},
            {"set", nft::set_ref(names::kVmFlows)},
            {"stmt", Json::array({{{"ct count", {{"val", flows_per_vm}, {"inv", true}}}}})}}}};
      rules.push_back(
          {{nft::match(nft::meta("iifname"), ifname_set()),
            nft::match(nft::ct("state"), Json::array({"new"}), "in"), count, nft::counter(),
            log_to_daemon(log_prefix("drop", "out", "flow limit")), nft::drop()},
           "host.flows_per_vm: connections of one VM"});
    }
    if (!any) return;
    rules.push_back(established());
    rules.push_back({{nft::match(nft::meta("iifname"), ifname_set()),
                      nft::vmap(nft::payload("ip", "saddr"), names::kVmL3Out)},
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
    rules.push_back(
        {{nft::vmap(nft::payload("ip", "daddr"), names::kVmL3In)}, "the receiving VM's IP filter"});
  }
  chain_named(inet, names::kVmInOutput)
      .rules.push_back({{nft::jump(kQuarantineChain)}, "quarantined VMs"});

  // Layer 2: a quarantined port may still send and receive IPv4 and ARP (cut above, by address,
  // except management); everything else (IPv6 included) stops here.
  Json not_ip_arp =
      nft::match(nft::payload("ether", "type"), nft::anonymous_set({"ip", "arp"}), "!=");
  auto l2 = [&](const char* chain, const char* dev, const char* map) {
    auto& rules = chain_named(bridge, chain).rules;
    rules.push_back({{nft::match(nft::meta(dev), nft::set_ref(names::kQuarantinedPorts)),
                      not_ip_arp, nft::counter(), nft::drop()},
                     "quarantine: non-IPv4 frames"});
    if (std::string(dev) == "iifname") {
      // A quarantined VM may not send as another address: the cut by address above would
      // otherwise be sidestepped (and ARP could poison its neighbours).
      Json ip_key = nft::concat({nft::meta("iifname"), nft::payload("ip", "saddr")});
      Json arp_key = nft::concat({nft::meta("iifname"), nft::payload("arp", "saddr ip")});
      rules.push_back({{nft::match(nft::meta(dev), nft::set_ref(names::kQuarantinedPorts)),
                        nft::match(ip_key, nft::set_ref(names::kQuarantinedPortAddrs), "!="),
                        nft::counter(), nft::drop()},
                       "quarantine: IPv4 from an address not the VM's"});
      rules.push_back({{nft::match(nft::meta(dev), nft::set_ref(names::kQuarantinedPorts)),
                        nft::match(arp_key, nft::set_ref(names::kQuarantinedPortAddrs), "!="),
                        nft::counter(), nft::drop()},
                       "quarantine: ARP for an address not the VM's"});
    }
    rules.push_back({{nft::vmap(nft::meta(dev), map)}, "the VM's layer-2 filter, by port"});
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
  // The values the chains look up by port (look_up_own_values).
  c.elements.push_back(
      {NftTable::bridge, names::kPortMacs, {nft::concat({vm.port, vm.mac->str()}), nullptr}});
  c.elements.push_back(
      {NftTable::bridge, names::kPortAddrs, {nft::concat({vm.port, vm.ip->str()}), nullptr}});
  auto inst = instantiate_vm(ix.config, vm, catalog);
  if (!inst.ok()) {
    if (!errors)
      throw std::logic_error("compile: filters of vm " + vm.name + " do not instantiate");
    locate_filter_errors(vm, inst.errors);
    errors->insert(errors->end(), inst.errors.begin(), inst.errors.end());
    return;
  }
  for (Direction d : {Direction::out, Direction::in}) {
    const bool out = d == Direction::out;
    std::string l2 = add_l2_group(inst.program, d, vm, ix, c);
    if (!l2.empty())
      c.elements.push_back(
          {NftTable::bridge, out ? names::kVmL2Out : names::kVmL2In, {vm.port, nft::jump(l2)}});
    std::string l3 = add_l3_group(inst.program, d, ix, c);
    if (!l3.empty())
      c.elements.push_back(
          {NftTable::inet, out ? names::kVmL3Out : names::kVmL3In, {vm.ip->str(), nft::jump(l3)}});
  }
}

void compile_vm_dispatch(const Index& ix, CompileFlags flags, Plan& p) {
  add_dispatch(p.table, p.bridge_table, flags.filtered, ix.config.host.flows_per_vm);
  // Bridged IPv4 between two VMs reaches the inet hooks (and conntrack) only through
  // br_netfilter; turned on only when filters or quarantine need it.
  if (flags.filtered || flags.quarantined) {
    p.sysctls.push_back({"net/bridge/bridge-nf-call-iptables", "1", true});
    p.sysctls.push_back({"net/bridge/bridge-nf-call-ip6tables", "1", true});
  }
}

}  // namespace vmgw::compile_detail
