// Per-VM filters in the daemon: defining and removing filters, binding them to VMs, quarantine,
// counters and traces. Every change goes through Gateway::commit (one store transaction, one
// kernel transaction); what is specific to filters is the conntrack cut after a change: the IP
// rules only see the first packet of a flow, so flows the new rules no longer allow are deleted
// from conntrack, and their next packet meets the new rules.
#include <algorithm>
#include <set>
#include <unordered_map>

#include "compile/compile.h"
#include "compile/drop_log.h"
#include "compile/filter_rules.h"
#include "daemon/desired.h"
#include "daemon/gateway.h"
#include "filter/builtins.h"
#include "filter/compare.h"
#include "filter/parse.h"

namespace vmgw::daemon {
namespace {

// Whether the tree of filters below `root` contains `target`.
bool reaches(const filter::FilterCatalog& cat, const std::string& root, const std::string& target,
             std::set<std::string>& seen) {
  if (root == target) return true;
  if (!seen.insert(root).second) return false;
  const filter::Filter* f = cat.lookup(root);
  if (!f) return false;
  for (const auto& e : f->entries)
    if (const auto* ref = std::get_if<filter::FilterRef>(&e))
      if (reaches(cat, ref->filter, target, seen)) return true;
  return false;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// The packet a flow's first packet was, as the VM's filter saw it: direction from the VM's
// point of view, addresses before SNAT (outbound) and after DNAT (inbound).
std::optional<filter::Packet> first_packet(const backend::ConntrackFlow& f, Ipv4 vm) {
  filter::Packet p;
  p.ip_proto = f.proto;
  p.state = filter::Packet::State::new_;
  if (f.orig_src == vm) {
    p.direction = filter::Direction::out;
    p.src_ip = f.orig_src.str();
    p.dst_ip = f.orig_dst.str();
    p.sport = f.orig_sport;
    p.dport = f.orig_dport;
  } else if (f.reply_src == vm) {  // to the VM, possibly DNATed
    p.direction = filter::Direction::in;
    p.src_ip = f.orig_src.str();
    p.dst_ip = vm.str();
    p.sport = f.orig_sport;
    p.dport = f.reply_sport;
  } else {
    return std::nullopt;
  }
  if (f.proto == 1 || f.proto == 58) {  // ICMP: the type and code ride in the port fields
    p.icmp_type = static_cast<uint8_t>(f.orig_dport >> 8);
    p.icmp_code = static_cast<uint8_t>(f.orig_dport & 0xff);
    p.sport = p.dport = 0;
  }
  return p;
}

// Only the stateful (IP) rules of a program: layer 2 rules are stateless and already apply to
// every frame of every flow the moment they are in the kernel.
filter::Program ip_rules_only(const filter::Program& prog) {
  filter::Program out;
  for (const auto& r : prog.rules)
    if (r.layer == filter::Layer::l3) out.rules.push_back(r);
  return out;
}

}  // namespace

std::vector<std::string> Gateway::vms_using(const std::string& filter) const {
  return vms_using(filter, catalog_);
}

std::vector<std::string> Gateway::vms_using(const std::string& filter,
                                            const filter::FilterCatalog& catalog) const {
  std::vector<std::string> out;
  for (const auto& v : vms()) {
    for (const auto& b : v.filters) {
      std::set<std::string> seen;
      if (reaches(catalog, b.filter, filter, seen)) {
        out.push_back(v.name);
        break;
      }
    }
  }
  std::sort(out.begin(), out.end());  // vms() is in no order
  return out;
}

std::string_view to_string(FilterOutcome o) {
  switch (o) {
    case FilterOutcome::defined:
      return "defined";
    case FilterOutcome::redefined:
      return "redefined";
    case FilterOutcome::unchanged:
      return "unchanged";
    case FilterOutcome::replaces_builtin:
      return "replaces-builtin";
    case FilterOutcome::restores_builtin:
      return "restores-builtin";
    case FilterOutcome::undefined:
      return "undefined";
  }
  return "";
}

DefinedFilter Gateway::define_filter(const std::string& xml) {
  auto parsed = filter::parse_filter_xml(xml, "");
  if (!parsed.ok()) {
    std::vector<std::pair<std::string, std::string>> errors;
    for (const auto& d : parsed.errors) {
      // "line 3:10: filter[name=x]/rule[1]@action", or "line 3:10" for a document that is not
      // XML (no element to name).
      std::string at = d.where.line > 0
                           ? "line " + std::to_string(d.where.line) +
                                 (d.where.column > 0 ? ":" + std::to_string(d.where.column) : "")
                           : "";
      errors.emplace_back(at.empty() || d.path.empty() ? at + d.path : at + ": " + d.path,
                          d.reason);
    }
    throw ServiceError(400, errors);
  }
  const filter::Filter& def = *parsed.filter;
  const std::string name = def.name;
  const filter::Filter* in_force = catalog_.lookup(name);
  const filter::Filter* builtin = filter::shipped_builtin(name);
  DefinedFilter out{name, in_force != nullptr, FilterOutcome::defined, "", {}, 0};
  // Nothing to do when the content is the one in force: libvirt's own files of the built-ins
  // (whose uuid, comments and spelling differ from vmgw's) and a filter defined again. A new
  // uuid for an operator's filter is kept, as dumpxml shows it.
  if (in_force && filter::same_content(def, *in_force) &&
      (filter::is_shipped_builtin(*in_force) || !def.uuid || def.uuid == in_force->uuid)) {
    out.outcome = FilterOutcome::unchanged;
    return out;
  }
  StateChange change;
  std::function<void(store::StoreTxn&)> write;
  store::FilterRecord rec{name, xml};
  if (builtin && filter::same_content(def, *builtin)) {
    // The built-in's content over the operator's replacement of it: the built-in is back.
    out.outcome = FilterOutcome::restores_builtin;
    change.removed_filters = {name};
    write = [&](store::StoreTxn& t) { t.delete_filter(name); };
  } else {
    if (builtin) {
      out.outcome = FilterOutcome::replaces_builtin;
      out.builtin_difference = filter::first_difference(def, *builtin).value_or("");
    } else if (in_force) {
      out.outcome = FilterOutcome::redefined;
    }
    // References are checked in the catalog as it would be (only the changed entry differs).
    filter::FilterCatalog probe = catalog_;
    probe.add_or_replace(def);
    auto refs = probe.check_references(name);
    if (!refs.empty()) {
      std::vector<std::pair<std::string, std::string>> errors;
      for (const auto& d : refs) errors.emplace_back(d.path, d.reason);
      throw ServiceError(400, errors);
    }
    change.put_filters = {rec};
    write = [&](store::StoreTxn& t) { t.put_filter(rec); };
  }
  apply_filter_change(change, write, "define filter '" + name + "'", out);
  return out;
}

DefinedFilter Gateway::undefine_filter(const std::string& name) {
  if (!objects_.filter(name)) {
    if (filter::is_builtin(name))
      throw ServiceError(409, "name",
                         "'" + name +
                             "' is a built-in filter: it cannot be undefined (define a "
                             "filter of that name to replace it)");
    throw ServiceError(404, "name", "no filter '" + name + "'");
  }
  DefinedFilter out{name, true, FilterOutcome::undefined, "", {}, 0};
  if (filter::is_builtin(name)) {
    // The operator's replacement goes; the built-in comes back for the VMs that use it.
    out.outcome = FilterOutcome::restores_builtin;
    apply_filter_change(
        {.removed_filters = {name}}, [&](store::StoreTxn& t) { t.delete_filter(name); },
        "restore the built-in filter '" + name + "'", out);
    return out;
  }
  auto vms = vms_using(name);
  if (!vms.empty())
    throw ServiceError(409, "name",
                       "filter '" + name + "' is used by vm " + quoted_list(vms) +
                           "; change their filters first (vmgw vm filter set)");
  auto users = catalog_.users_of(name);
  if (!users.empty())
    throw ServiceError(409, "name",
                       "filter '" + name + "' is referenced by filter " + quoted_list(users));
  commit(
      {.removed_filters = {name}}, [&](store::StoreTxn& t) { t.delete_filter(name); },
      "undefine filter '" + name + "'");
  return out;
}

void Gateway::apply_filter_change(const StateChange& change,
                                  const std::function<void(store::StoreTxn&)>& write,
                                  const std::string& what, DefinedFilter& out) {
  const std::string& name =
      change.put_filters.empty() ? change.removed_filters.front() : change.put_filters.front().name;
  // The VMs whose rules may change, as they are now (for the conntrack cut after).
  std::vector<Vm> before;
  for (const auto& vm : vms_using(name))
    if (const Vm* v = find_vm(vm)) before.push_back(*v);
  filter::FilterCatalog before_catalog;
  commit(change, write, what, "", &before_catalog);
  out.flows_cut = cut_revoked_flows(before, before_catalog, &out.vms_updated);
}

store::VmRecord Gateway::set_vm_filters(const std::string& vm,
                                        std::vector<store::FilterBindingRecord> filters) {
  const store::VmRecord* rec = objects_.vm(vm);
  if (!rec) throw ServiceError(404, "name", "no vm '" + vm + "'");
  store::VmRecord next = *rec;
  next.filters = filters;
  std::vector<Vm> before = {*find_vm(vm)};
  commit(
      {.put_vms = {next}}, [&](store::StoreTxn& t) { t.set_vm_filters(vm, filters); },
      "set the filters of " + vm_path(vm), vm_path(vm));
  cut_revoked_flows(before, catalog_, nullptr);
  return *objects_.vm(vm);
}

size_t Gateway::quarantine(const std::string& vm, std::vector<Cidr> allow_from) {
  const store::VmRecord* rec = objects_.vm(vm);
  if (!rec) throw ServiceError(404, "name", "no vm '" + vm + "'");
  store::QuarantineRecord q{std::move(allow_from)};
  store::VmRecord next = *rec;
  next.quarantine = q;
  commit(
      {.put_vms = {next}}, [&](store::StoreTxn& t) { t.set_vm_quarantine(vm, q); },
      "quarantine " + vm_path(vm), vm_path(vm));
  // Established flows would otherwise go on: delete them all (management sessions included;
  // their next packet is a new flow that the quarantine lets through).
  size_t cut = 0;
  const Ipv4 ip = objects_.vm(vm)->ip;
  try {
    cut = deps_.conntrack.delete_flows(deps_.conntrack.list(ip));
  } catch (const std::exception&) {  // the rules are in force; flows die at their next packet
  }
  counters_.conntrack_deleted += cut;
  return cut;
}

void Gateway::unquarantine(const std::string& vm) {
  const store::VmRecord* rec = objects_.vm(vm);
  if (!rec) throw ServiceError(404, "name", "no vm '" + vm + "'");
  store::VmRecord next = *rec;
  next.quarantine.reset();
  commit(
      {.put_vms = {next}}, [&](store::StoreTxn& t) { t.set_vm_quarantine(vm, std::nullopt); },
      "unquarantine " + vm_path(vm), vm_path(vm));
}

size_t Gateway::cut_revoked_flows(const std::vector<Vm>& before,
                                  const filter::FilterCatalog& before_catalog,
                                  std::vector<std::string>* changed_vms) {
  // The VMs whose rules the change made different in the kernel (what the last commit reported),
  // without instantiating anything: a redefinition touches every VM of a filter, and few have
  // flows.
  const std::set<std::string> changed(changed_by_last_commit_.begin(),
                                      changed_by_last_commit_.end());
  std::vector<std::pair<const Vm*, const Vm*>> candidates;  // (as it was, as it is)
  for (const Vm& old : before) {
    const Vm* vm = find_vm(old.name);
    if (!vm || !changed.count(object_key(*vm))) continue;
    if (changed_vms) changed_vms->push_back(vm->name);
    if (vm->ip) candidates.emplace_back(&old, vm);
  }
  if (candidates.empty()) return 0;
  size_t cut = 0;
  try {
    // One VM: its flows; many (a shared filter redefined): one listing of every flow, not one
    // per VM.
    std::vector<backend::ConntrackFlow> flows = deps_.conntrack.list(
        candidates.size() == 1 ? std::optional<Ipv4>(*candidates[0].second->ip) : std::nullopt);
    if (flows.empty()) return 0;
    std::unordered_map<uint32_t, std::pair<const Vm*, const Vm*>> by_ip;
    for (const auto& c : candidates) by_ip.emplace(c.second->ip->value, c);
    // The IP rules now in force of the VMs that have flows, when they differ from before
    // (nullptr: unchanged, nothing to revoke).
    std::unordered_map<uint32_t, std::optional<filter::Program>> rules;
    auto rules_of = [&](uint32_t ip) -> const filter::Program* {
      auto it = rules.find(ip);
      if (it == rules.end()) {
        const auto& [old, vm] = by_ip.at(ip);
        filter::Program was, now;
        if (!old->filters.empty()) was = instantiate_vm(desired(), *old, before_catalog).program;
        if (!vm->filters.empty()) now = instantiate_vm(desired(), *vm, catalog_).program;
        std::optional<filter::Program> ip_now = ip_rules_only(now);
        if (*ip_now == ip_rules_only(was)) ip_now.reset();
        it = rules.emplace(ip, std::move(ip_now)).first;
      }
      return it->second ? &*it->second : nullptr;
    };
    std::vector<backend::ConntrackFlow> revoked;
    for (const auto& f : flows) {
      for (Ipv4 a : {f.orig_src, f.reply_src}) {
        if (!by_ip.count(a.value)) continue;
        const filter::Program* prog = rules_of(a.value);
        if (!prog) continue;
        auto p = first_packet(f, a);
        if (p && filter::evaluate(*prog, *p).verdict != filter::Verdict::accept) {
          revoked.push_back(f);
          break;
        }
      }
    }
    if (!revoked.empty()) cut += deps_.conntrack.delete_flows(revoked);
  } catch (const std::exception&) {  // the new rules are in force for new flows regardless
  }
  counters_.conntrack_deleted += cut;
  return cut;
}

std::vector<Gateway::NamedCounter> Gateway::rule_counters() {
  std::vector<NamedCounter> out;
  for (const char* chain : names::kStatusChains) {
    for (const auto& r : deps_.backends.nft.rule_counters("inet", names::kTable, chain))
      if (r.has_counter && !r.comment.empty())
        out.push_back({chain, r.comment, r.packets, r.bytes});
  }
  return out;
}

uint64_t Gateway::drop_log_suppressed() {
  uint64_t total = 0;
  for (const char* family : {"inet", "bridge"}) {
    for (const auto& r :
         deps_.backends.nft.rule_counters(family, names::kTable, names::kLogSuppressed))
      total += r.packets;
  }
  return total;
}

std::vector<RuleStats> Gateway::filter_stats(const std::string& vm_name) {
  const Vm* vm = find_vm(vm_name);
  if (!vm) throw ServiceError(404, "name", "no vm '" + vm_name + "'");
  struct Root {
    NftTable table;
    const char* kind;  // the prefix of its programs' chains
    const char* layer;
    const char* direction;
  };
  const std::vector<Root> roots = {
      {NftTable::bridge, "l2o-", "l2", "out"},
      {NftTable::bridge, "l2i-", "l2", "in"},
      {NftTable::inet, "l3o-", "l3", "out"},
      {NftTable::inet, "l3i-", "l3", "in"},
  };
  const Footprint* mine = live_.footprint(object_key(*vm));
  if (!mine) return {};
  // The VM's elements by set: its membership in a program ("<root>-vms") and its values of the
  // rules that hoist some ("<chain>-r<n>"), whose counters are the VM's own.
  std::map<std::pair<NftTable, std::string>, std::vector<nft::Element>> my_elements;
  for (const auto& e : mine->elements)
    my_elements[{e.table, e.set}].push_back({nft::Json::parse(e.key), nft::Json::parse(e.value)});
  // The program the VM holds in one direction ("" if none).
  auto root_of = [&](const Root& r) {
    for (const auto& [where, elems] : my_elements) {
      const std::string& set = where.second;
      const size_t n = names::kProgramMembersSuffix.size();
      if (where.first == r.table && set.rfind(r.kind, 0) == 0 && set.size() > n &&
          set.ends_with(names::kProgramMembersSuffix))
        return set.substr(0, set.size() - n);
    }
    return std::string();
  };
  std::vector<RuleStats> out;
  // Read chain by chain and set by set over netlink (not a listing of the table, which at
  // 10 000 VMs took 2.5 s with vmgwd's one thread held; now 0.14 s).
  for (const auto& r : roots) {
    const std::string root = root_of(r);
    if (root.empty()) continue;
    const std::string family = r.table == NftTable::inet ? "inet" : "bridge";
    // The root, then the chains it jumps to, in order.
    std::vector<std::string> todo{root};
    std::set<std::string> seen;
    for (size_t i = 0; i < todo.size(); ++i) {
      const std::string chain = todo[i];
      if (!seen.insert(chain).second) continue;
      const auto shared = static_cast<size_t>(live_.holders(r.table, chain));
      for (const auto& rule : deps_.backends.nft.rule_counters(family, names::kTable, chain)) {
        RuleStats st{r.layer,      r.direction, chain, own_rule(vm_name, rule.comment),
                     rule.packets, rule.bytes,  shared};
        // Not into a rule's log chain (compile/drop_log.h): its rules are the log's, not the
        // filter's.
        for (const auto& target : rule.jumps)
          if (target.rfind("log-", 0) != 0) todo.push_back(target);
        // A rule that looks the VM's values up counts per VM: its elements' counters.
        for (const auto& name : rule.lookups) {
          auto mine_here = my_elements.find({r.table, name});
          if (mine_here == my_elements.end()) continue;
          // Only a set with counters counts per VM (a program's membership set has none).
          const nft::Set* declared = live_.declared_set(r.table, name);
          if (!declared || !declared->counter) continue;
          const auto counts = deps_.backends.nft.element_counts(family, names::kTable, *declared,
                                                                mine_here->second);
          st.packets = counts.packets;
          st.bytes = counts.bytes;
          st.shared_by = 1;
        }
        out.push_back(std::move(st));
      }
    }
  }
  return out;
}

std::string Gateway::own_rule(const std::string& vm_name, const std::string& origin) const {
  const Vm* vm = find_vm(vm_name);
  if (!vm) return origin;
  std::vector<std::string> names;
  for (const auto& b : vm->filters) names.push_back(b.filter);
  return compile_detail::own_origin(origin, names);
}

std::string Gateway::vm_of_ip(const std::string& ip) const {
  auto a = Ipv4::parse(ip);
  return a ? objects_.vm_with_ip(*a) : "";
}

std::string Gateway::filter_path() const {
  // The kernel without bridge-family conntrack (nf_conntrack_bridge) is the one vmgw targets;
  // br_netfilter is what brings bridged VM-to-VM IPv4 into the stateful inet hooks.
  auto on = deps_.backends.sysctl.get("net/bridge/bridge-nf-call-iptables");
  if (!on)
    return "routed traffic only (br_netfilter not loaded: bridged VM-to-VM IP is not filtered)";
  return *on == "1" ? "br_netfilter (bridged and routed IPv4, stateful)"
                    : "br_netfilter available, off (no VM has filters)";
}

std::string Gateway::vm_of_port(const std::string& port) const {
  return port.empty() ? "" : objects_.vm_with_port(port);
}

}  // namespace vmgw::daemon

namespace vmgw::daemon {
namespace {

bool in_internal_subnet(const Config& c, Ipv4 a) {
  for (const auto& n : c.networks)
    if (n.subnet && n.subnet->contains(a)) return true;
  return false;
}

bool is_host_address(const Config& c, Ipv4 a) {
  for (const auto& n : c.networks)
    if (n.gateway && *n.gateway == a) return true;
  for (const auto& u : c.uplinks)
    if (u.address && u.address->address == a) return true;
  return false;
}

// The gateway's own policy for a packet the VM's filters let through (compile/filter.cpp).
void gateway_policy(const Config& c, const Vm& vm, const filter::Packet& p, TraceResult& t) {
  auto decide = [&](bool accept, const std::string& why) {
    t.verdict = accept ? "accept" : "drop";
    t.decided_by = why;
    t.steps.push_back("gateway: " + why + ": " + t.verdict);
  };
  if (p.state != filter::Packet::State::new_) return decide(true, "reply or related of a flow");
  if (p.from_host) return decide(true, "the host's own packets");
  auto src = Ipv4::parse(p.src_ip), dst = Ipv4::parse(p.dst_ip);
  if (p.direction == filter::Direction::out && dst && is_host_address(c, *dst)) {
    const Network* net = nullptr;
    for (const auto& n : c.networks)
      if (n.name == vm.network) net = &n;
    if (p.ip_proto == 17 && p.dport == 67 && net && net->dhcp)
      return decide(true, "host: DHCP requests to the host's dnsmasq");
    if (p.ip_proto == 1 && c.host.icmp) {
      for (const auto& m : *c.host.icmp)
        if (m.type == p.icmp_type && (!m.code || *m.code == p.icmp_code))
          return decide(true, "host: allow icmp " + m.text);
    } else if (p.ip_proto == 1 && p.icmp_type == 8 && c.host.allow_ping) {
      return decide(true, "host: allow ping");
    }
    auto within = [](const std::vector<Cidr>& list, const std::optional<Ipv4>& a) {
      if (list.empty()) return true;
      return a &&
             std::any_of(list.begin(), list.end(), [&](const Cidr& x) { return x.contains(*a); });
    };
    for (const auto& s : c.host.allow) {
      bool proto =
          (s.proto == Proto::tcp && p.ip_proto == 6) || (s.proto == Proto::udp && p.ip_proto == 17);
      // A VM's packet arrives on its network's bridge.
      bool on = s.interfaces.empty() || (net && std::find(s.interfaces.begin(), s.interfaces.end(),
                                                          net->bridge) != s.interfaces.end());
      if (proto && on && within(s.from, src) && within(s.to, dst) && s.has_port(p.dport)) {
        std::string ports;
        for (const auto& text : s.port_text) ports += (ports.empty() ? "" : ",") + text;
        return decide(true, "host: allow " + std::string(to_string(s.proto)) + "/" + ports);
      }
    }
    return decide(false, "host: everything else");
  }
  const Network* own = nullptr;
  for (const auto& n : c.networks)
    if (n.name == vm.network) own = &n;
  const std::optional<std::vector<IcmpMatch>> none;
  const auto& icmp_list = !own                                    ? none
                          : p.direction == filter::Direction::out ? own->icmp_out
                                                                  : own->icmp_in;
  if (p.ip_proto == 1 && icmp_list) {
    const std::string who =
        vm.network + ": icmp " + (p.direction == filter::Direction::out ? "out" : "in");
    for (const auto& m : *icmp_list)
      if (m.type == p.icmp_type && (!m.code || *m.code == p.icmp_code))
        return decide(true, who + " " + m.text);
    return decide(false, who + ": not listed");
  }
  if (p.direction == filter::Direction::out)
    return decide(true, "VM networks and LANs may open connections");
  if (src && in_internal_subnet(c, *src))
    return decide(true, "VM networks and LANs may open connections");
  for (const auto& f : c.port_forwards) {
    bool proto =
        (f.proto == Proto::tcp && p.ip_proto == 6) || (f.proto == Proto::udp && p.ip_proto == 17);
    if (f.vm == vm.name && proto && f.vm_ports && f.vm_ports->first <= p.dport &&
        p.dport <= f.vm_ports->last)
      return decide(true, "published by port forward " + f.public_address->str() + ":" +
                              f.public_ports->str());
  }
  for (const auto& b : c.eip_bindings)
    if (b.vm == vm.name) return decide(true, "published by elastic IP " + b.address->str());
  return decide(false, "everything else (not published)");
}

}  // namespace

TraceResult Gateway::trace(const std::string& vm_name, filter::Packet p) const {
  const Vm* vm = find_vm(vm_name);
  if (!vm) throw ServiceError(404, "vm", "no vm '" + vm_name + "'");
  const bool out = p.direction == filter::Direction::out;
  // The VM's own side of the packet defaults to the VM.
  if (out) {
    if (!p.src_mac) p.src_mac = vm->mac;
    if (p.src_ip.empty() && vm->ip) p.src_ip = vm->ip->str();
  } else {
    if (!p.dst_mac) p.dst_mac = vm->mac;
    if (p.dst_ip.empty() && vm->ip) p.dst_ip = vm->ip->str();
  }
  if (p.ether_type == 0x0806) {  // ARP: the VM announcing or asking with its own addresses
    if (!p.arp_src_mac) p.arp_src_mac = out ? vm->mac : p.src_mac;
    if (p.arp_src_ip.empty()) p.arp_src_ip = out ? p.src_ip : p.src_ip;
    if (p.arp_dst_ip.empty()) p.arp_dst_ip = p.dst_ip;
  }
  if (!out) {
    auto src = Ipv4::parse(p.src_ip);
    p.from_host = src && is_host_address(desired(), *src);
  }
  TraceResult t;
  if (vm->quarantine) {
    auto other = Ipv4::parse(out ? p.dst_ip : p.src_ip);
    bool allowed = false;
    for (const auto& c : vm->quarantine->allow_from)
      if (other && c.contains(*other)) allowed = true;
    if (!allowed) {
      t.verdict = "drop";
      t.decided_by = "quarantine";
      t.steps.push_back("quarantine: vm " + vm->name + " is quarantined: drop");
      return t;
    }
    t.steps.push_back("quarantine: management source allowed");
  }
  if (!vm->filters.empty()) {
    auto inst = instantiate_vm(desired(), *vm, catalog_);
    auto ev = filter::evaluate(inst.program, p);
    for (const auto& s : ev.steps) t.steps.push_back(filter::describe(s));
    if (ev.verdict != filter::Verdict::accept) {
      t.verdict = std::string(filter::to_string(ev.verdict));
      t.decided_by = ev.decided_by;
      return t;
    }
  } else {
    t.steps.push_back("filters: vm " + vm->name + " has none");
  }
  if (p.ether_type != 0x0800) {
    t.verdict = "accept";
    t.decided_by = "layer 2: not IP, bridged as is";
    return t;
  }
  gateway_policy(desired(), *vm, p, t);
  return t;
}

}  // namespace vmgw::daemon
