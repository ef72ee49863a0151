#include "apply/apply.h"

#include <algorithm>
#include <set>

#include "apply/net_diff.h"

namespace vmgw {
namespace {

void preflight(const Plan& plan, const NetState& net) {
  for (const auto& dev : plan.uplink_devices) {
    bool present = std::any_of(net.links.begin(), net.links.end(),
                               [&](const backend::LinkInfo& l) { return l.name == dev; });
    if (!present) throw EnvironmentError("uplink device '" + dev + "' does not exist on this host");
  }
}

// Whether `s` must be written: its key exists (or must), and the kernel's value differs (or, for
// an at-least key, is lower and may be raised here).
bool needs_write(const PlannedSysctl& s, backend::Sysctl& sysctl) {
  auto now = sysctl.get(s.key);
  if (!now && (s.if_present || s.at_least)) return false;  // e.g. br_netfilter not loaded
  if (!s.at_least) return now != s.value;
  unsigned long long have = 0, want = 0;
  try {
    have = std::stoull(*now);
    want = std::stoull(s.value);
  } catch (const std::exception&) {
    return false;  // not a number: not ours to judge
  }
  // Host-wide and read-only in a network namespace: left to the host (docs/config.md).
  return have < want && sysctl.writable(s.key);
}

std::string sysctl_name(std::string key) {
  std::replace(key.begin(), key.end(), '/', '.');
  return key;
}

ApplyReport diff_all(const Plan& plan, Backends& b, const NetState& net, std::vector<NetOp>& ops) {
  ApplyReport r;
  // Both tables change in one batch: one kernel transaction for the whole policy.
  r.nft = diff_table(b.nft.read_table(plan.table.family, plan.table.name), plan.table);
  r.nft += diff_table(b.nft.read_table(plan.bridge_table.family, plan.bridge_table.name),
                      plan.bridge_table);
  ops = net_diff(plan, net);
  for (const auto& op : ops) r.net.push_back(op.str());
  for (const auto& s : plan.sysctls)
    if (needs_write(s, b.sysctl)) r.sysctl.push_back(sysctl_name(s.key) + " = " + s.value);
  return r;
}

}  // namespace

bool ApplyReport::changed() const {
  return !nft.empty() || !net.empty() || !sysctl.empty() || !dhcp.empty();
}

std::string ApplyReport::summary() const {
  if (!changed()) return "no changes: the kernel already holds this configuration";
  std::string out = "applied:";
  std::string sep = " ";
  if (!nft.empty()) {
    out += sep + "nftables " + nft.summary() + " (1 transaction)";
    sep = "; ";
  }
  if (!net.empty()) {
    out += sep + std::to_string(net.size()) + " link/address/route change" +
           (net.size() == 1 ? "" : "s");
    sep = "; ";
  }
  for (const auto& s : sysctl) {
    out += sep + s;
    sep = "; ";
  }
  for (const auto& d : dhcp) {
    out += sep + "dhcp " + d;
    sep = "; ";
  }
  return out;
}

UplinkConditions link_conditions(const Config& config,
                                 const std::vector<backend::LinkInfo>& links) {
  UplinkConditions out;
  for (const auto& u : config.uplinks) {
    auto it = std::find_if(links.begin(), links.end(),
                           [&](const backend::LinkInfo& l) { return l.name == u.device; });
    out[u.name] = {it != links.end() && it->up && it->carrier, true};
  }
  return out;
}

ApplyReport apply_routing(const Plan& plan, backend::Rtnl& rtnl) {
  ApplyReport r;
  auto ops = routing_diff(plan, read_net_state(rtnl));
  for (const auto& op : ops) r.net.push_back(op.str());
  run_net_ops(ops, rtnl);
  return r;
}

ApplyReport preview(const Plan& plan, Backends& b) {
  NetState net = read_net_state(b.rtnl);
  preflight(plan, net);
  std::vector<NetOp> ops;
  return diff_all(plan, b, net, ops);
}

ApplyReport apply(const Plan& plan, Backends& b) {
  NetState net = read_net_state(b.rtnl);
  preflight(plan, net);
  std::vector<NetOp> ops;
  ApplyReport r = diff_all(plan, b, net, ops);

  // nftables first: it is the one step the kernel may refuse as a whole, and refusing it must
  // leave everything as it was.
  if (!r.nft.empty()) b.nft.apply(r.nft.batch());
  run_net_ops(ops, b.rtnl);
  for (const auto& s : plan.sysctls)
    if (needs_write(s, b.sysctl)) b.sysctl.set(s.key, s.value);
  std::vector<std::string> networks;
  for (const auto& d : plan.dhcp) {
    networks.push_back(d.network);
    std::string what = b.dhcp.ensure(d);
    if (!what.empty()) r.dhcp.push_back(d.network + " " + what);
  }
  for (const auto& n : b.dhcp.stop_except(networks)) r.dhcp.push_back(n + " stopped");
  return r;
}

void restore_net(const Plan& host, backend::Rtnl& rtnl, std::vector<NetOp>& ran) {
  for (auto& op : net_diff(host, read_net_state(rtnl))) {
    run_net_ops({op}, rtnl);
    ran.push_back(std::move(op));
  }
}

std::vector<std::string> restore_sysctls(const Plan& host, backend::Sysctl& sysctl) {
  std::vector<std::string> out;
  for (const auto& s : host.sysctls) {
    if (!needs_write(s, sysctl)) continue;
    sysctl.set(s.key, s.value);
    out.push_back(sysctl_name(s.key) + " = " + s.value);
  }
  return out;
}

ApplyReport apply_delta(const PlanDelta& delta, Backends& b, bool& written,
                        std::vector<std::string>* plugged) {
  ApplyReport r;
  r.nft = delta.nft;
  if (!r.nft.empty()) {
    b.nft.apply(r.nft.batch());
    written = true;
  }
  std::vector<NetOp> ops;
  if (!delta.ports.empty() || !delta.add_addresses.empty() || !delta.remove_addresses.empty()) {
    // Only what the change names: its ports (plugged in if they exist) and its addresses; the
    // links and addresses it does not name are left as they are, and not read either (one
    // VM's change must not dump every other VM's port).
    NetState net;
    std::set<std::string> named_links;
    for (const auto& p : delta.ports) {
      named_links.insert(p.device);
      named_links.insert(p.bridge);  // the port's master is found by its index
    }
    for (const auto& name : named_links)
      if (auto l = b.rtnl.link(name)) net.links.push_back(std::move(*l));
    if (!delta.add_addresses.empty() || !delta.remove_addresses.empty())
      net.addresses = b.rtnl.addresses();
    Plan named;
    named.ports = delta.ports;
    named.addresses = delta.add_addresses;
    ops = link_and_address_additions(named, net);
    for (const auto& a : delta.remove_addresses) {
      backend::AddressInfo have{a.device, a.address};
      if (std::find(net.addresses.begin(), net.addresses.end(), have) != net.addresses.end())
        ops.push_back({NetOp::Kind::delete_address, a.device, "", a.address, {}});
    }
  }
  for (const auto& op : ops) {
    r.net.push_back(op.str());
    if (plugged && op.kind == NetOp::Kind::set_master) plugged->push_back(op.device);
  }
  if (!ops.empty()) written = true;
  run_net_ops(ops, b.rtnl);
  for (const auto& s : delta.sysctls) {
    if (!needs_write(s, b.sysctl)) continue;
    written = true;
    b.sysctl.set(s.key, s.value);
    r.sysctl.push_back(sysctl_name(s.key) + " = " + s.value);
  }
  for (const auto& d : delta.dhcp) {
    written = true;
    std::string what = b.dhcp.ensure(d);
    if (!what.empty()) r.dhcp.push_back(d.network + " " + what);
  }
  return r;
}

}  // namespace vmgw
