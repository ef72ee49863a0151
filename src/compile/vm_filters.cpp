// Per-VM filters in the kernel. Each VM's Program becomes, per layer and direction, a group of
// chains (root and its sub-chains), named by a hash of their content so that VMs whose filters
// instantiate identically share one group. Dispatch is one verdict-map lookup per packet: by
// bridge port in the bridge table (layer 2), by VM address in the inet table (IP, after
// conntrack lets established flows through). Egress and ingress run in separate base chains so
// that an nwfilter `accept` of the sender's filter does not skip the receiver's filter.
#include <cstdio>

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

// The chains of one layer and direction, named `prefix` (root) and `prefix-<chain>`.
std::vector<nft::Chain> build_group(const filter::Program& prog, Layer layer, Direction d,
                                    const std::string& prefix) {
  std::vector<nft::Chain> out;
  nft::Chain root{prefix, std::nullopt, {}};
  if (layer == Layer::l3) {
    for (const auto* r : filter::rules_of(prog, Layer::l3, "root", d))
      if (auto m = rule_matches(*r)) root.rules.push_back(filter_rule(*r, d, std::move(*m)));
    if (root.rules.empty()) return {};  // no IP rules this way: no dispatch either
    out.push_back(std::move(root));
    return out;
  }
  for (const auto& step : filter::root_steps(prog, d)) {
    if (step.rule) {
      if (auto m = rule_matches(*step.rule))
        root.rules.push_back(filter_rule(*step.rule, d, std::move(*m)));
      continue;
    }
    const std::string& chain = step.jump->name;
    nft::Chain sub{prefix + "-" + chain, std::nullopt, {}};
    for (const auto* r : filter::rules_of(prog, Layer::l2, chain, d))
      if (auto m = rule_matches(*r)) sub.rules.push_back(filter_rule(*r, d, std::move(*m)));
    if (sub.rules.empty()) continue;  // nothing to do there in this direction
    auto jump = chain_guard(chain);
    jump.push_back(nft::jump(sub.name));
    root.rules.push_back({std::move(jump), "nwfilter chain " + chain});
    out.push_back(std::move(sub));
  }
  if (root.rules.empty()) return {};
  out.insert(out.begin(), std::move(root));
  return out;
}

std::string group_kind(Layer layer, Direction d) {
  return std::string(layer == Layer::l2 ? "l2" : "l3") + (d == Direction::out ? "o" : "i");
}

// Builds the group once with a placeholder name, hashes it, and names it by the hash: identical
// instantiations get identical names (and are shared). Returns the root chain's name ("" if
// there is nothing to do).
std::string add_group(const filter::Program& prog, Layer layer, Direction d, NftTable table,
                      Contribution& c) {
  const std::string kind = group_kind(layer, d);
  auto group = build_group(prog, layer, d, "@");
  if (group.empty()) return "";
  Json content = Json::array();
  for (const auto& ch : group)
    for (const auto& r : ch.rules) content.push_back(Json{{"chain", ch.name}, {"expr", r.expr}});
  char hash[24];
  std::snprintf(hash, sizeof hash, "%010llx",
                static_cast<unsigned long long>(nft::fnv1a(content.dump()) & 0xffffffffffULL));
  const std::string name = kind + "-" + hash;
  // "@" -> name, in the chains' names and in the root's jumps to its sub-chains (rule ids hash
  // the expressions, so they follow).
  auto renamed = [&](const std::string& s) { return name + s.substr(1); };
  for (auto& ch : group) {
    ch.name = renamed(ch.name);
    for (auto& r : ch.rules)
      for (auto& x : r.expr)
        if (x.contains("jump")) x["jump"]["target"] = renamed(x["jump"]["target"]);
    c.shared_chains.push_back({table, std::move(ch)});
  }
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
    std::string l2 = add_group(inst.program, Layer::l2, d, NftTable::bridge, c);
    if (!l2.empty())
      c.elements.push_back(
          {NftTable::bridge, out ? names::kVmL2Out : names::kVmL2In, {vm.port, nft::jump(l2)}});
    std::string l3 = add_group(inst.program, Layer::l3, d, NftTable::inet, c);
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
