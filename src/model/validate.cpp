// Semantic validation of a parsed Config. After validate() succeeds the compiler may rely on:
//  - every required field is present (uplink name/device/address; network name/bridge/subnet/
//    gateway; vm name/network/mac/ip; forward public/to with ports; pool name/uplink/first/last;
//    binding address/vm; host service ports);
//  - object names are valid (is_valid_object_name) and unique per kind; device names (uplink
//    devices, bridges, VM ports, host interfaces) are valid and no device plays two roles;
//  - uplink gateways are inside the uplink's prefix; network subnets are /8../30, do not overlap
//    each other nor contain an uplink address; network gateways are host addresses of the subnet;
//  - every reference (masquerade uplink, vm.network, forward vm, pool uplink, binding vm and
//    pool) names an existing object;
//  - VM IPs are host addresses of their network, not its gateway; VM MACs are unicast, non-zero;
//    VM MACs, IPs and ports are unique;
//  - ports are 1..65535 with first <= last; a forward's public and VM ranges have the same size;
//    a forward's public address is an uplink address or inside an elastic IP pool; no address,
//    proto and port is forwarded twice;
//  - pools are ordered (first <= last), disjoint, belong to a known uplink and do not contain an
//    uplink address; bindings are inside their pool (or some pool), each address and each VM is
//    bound at most once.
// The multi-uplink parts (uplink addresses and probes, network uplinks, DSCP rules) are checked
// in validate_uplinks.cpp.
// This file holds the entry point, shared helpers, uplinks, networks and VMs; forwards, elastic
// IPs and host policy are in validate_nat.cpp.

#include "model/validate.h"

#include <algorithm>
#include <set>

#include "model/validate_internal.h"

namespace vmgw {
namespace detail {

std::string quote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

namespace {

size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      size_t substitute = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitute});
      diagonal = above;
    }
  }
  return row[b.size()];
}

template <typename T>
const T* find_named(const std::vector<T>& all, std::string_view name) {
  if (name.empty()) return nullptr;
  for (const auto& o : all)
    if (o.name == name) return &o;
  return nullptr;
}

// Subnets outside /8../30 are reported once; checks that depend on the subnet skip them.
bool usable_subnet(const Network& n) {
  return n.subnet && n.subnet->prefix >= 8 && n.subnet->prefix <= 30;
}

}  // namespace

std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  size_t best_distance = 3;
  for (auto c : candidates) {
    if (c.empty() || c == word) continue;
    size_t d = edit_distance(word, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  if (best.empty()) return "";
  return "; did you mean " + quote(best) + "?";
}

std::string bad_device(std::string_view name) {
  return quote(name) + " is not a valid interface name: at most 15 characters of [A-Za-z0-9_.-]";
}

void Checker::error(const Origin& o, const std::string& field, std::string reason) {
  std::string path = o.path;
  if (!field.empty()) path = path.empty() ? field : path + "." + field;
  errors.push_back(Diagnostic{o.at(field), std::move(path), std::move(reason)});
}

bool Checker::require(const Origin& o, const std::string& field, bool present) {
  if (!present && o.fields.count(field) == 0) error(o, field, "missing required field");
  return present;
}

bool Checker::check_ports(const Origin& o, const std::string& field, const PortRange& ports) {
  for (uint32_t p : {ports.first, ports.last}) {
    if (p == 0 || p > 65535) {
      error(o, field, "port " + std::to_string(p) + " is out of range 1-65535");
      return false;
    }
  }
  if (ports.first > ports.last) {
    error(o, field,
          "reversed range " + std::to_string(ports.first) + "-" + std::to_string(ports.last));
    return false;
  }
  return true;
}

const Uplink* Checker::uplink(std::string_view name) const {
  return find_named(config.uplinks, name);
}
const Network* Checker::network(std::string_view name) const {
  return find_named(config.networks, name);
}
const Vm* Checker::vm(std::string_view name) {
  // Thousands of VMs are looked up by thousands of forwards and bindings: by hash.
  if (name.empty()) return nullptr;
  size_t i =
      first_with("vm names", config.vms, std::string(name), [](const Vm& v) { return v.name; });
  return i == SIZE_MAX ? nullptr : &config.vms[i];
}
const ElasticIpPool* Checker::pool(std::string_view name) const {
  return find_named(config.eip_pools, name);
}

void check_uplinks(Checker& c) {
  const auto& all = c.config.uplinks;
  for (size_t i = 0; i < all.size(); ++i) {
    const Uplink& u = all[i];
    c.check_name(u, all, i, "uplink");
    if (c.require(u.origin, "device", !u.device.empty())) {
      if (!is_valid_device_name(u.device)) {
        c.error(u.origin, "device", bad_device(u.device));
      } else {
        for (size_t j = 0; j < i; ++j) {
          if (all[j].device == u.device) {
            c.error(
                u.origin, "device",
                "device " + quote(u.device) + " is already used by " + describe("uplink", all[j]));
            break;
          }
        }
      }
    }
    if (c.require(u.origin, "address", u.address.has_value()) && u.gateway) {
      Cidr prefix{Ipv4{u.address->address.value & Cidr{{}, u.address->prefix}.mask()},
                  u.address->prefix};
      if (!prefix.contains(*u.gateway)) {
        c.error(u.origin, "gateway",
                "gateway " + u.gateway->str() + " is outside the uplink's prefix " + prefix.str());
      } else if (*u.gateway == u.address->address) {
        c.error(u.origin, "gateway",
                "gateway " + u.gateway->str() + " is the uplink's own address");
      }
    }
  }
}

namespace {

void check_bridge(Checker& c, const std::vector<Network>& all, size_t i) {
  const Network& n = all[i];
  if (!c.require(n.origin, "bridge", !n.bridge.empty())) return;
  if (!is_valid_device_name(n.bridge)) {
    c.error(n.origin, "bridge", bad_device(n.bridge));
    return;
  }
  for (const auto& u : c.config.uplinks) {
    if (u.device == n.bridge) {
      c.error(n.origin, "bridge",
              "bridge " + quote(n.bridge) + " is already the device of " + describe("uplink", u));
      return;
    }
  }
  for (size_t j = 0; j < i; ++j) {
    if (all[j].bridge == n.bridge) {
      c.error(n.origin, "bridge",
              "bridge " + quote(n.bridge) + " is already used by " + describe("network", all[j]));
      return;
    }
  }
}

void check_subnet(Checker& c, const std::vector<Network>& all, size_t i) {
  const Network& n = all[i];
  if (!c.require(n.origin, "subnet", n.subnet.has_value())) return;
  const Cidr& s = *n.subnet;
  if (s.prefix < 8 || s.prefix > 30) {
    c.error(n.origin, "subnet",
            "prefix length /" + std::to_string(s.prefix) +
                " is out of range: a network's subnet must be /8 to /30");
    return;
  }
  for (size_t j = 0; j < i; ++j) {
    const auto& other = all[j].subnet;
    if (usable_subnet(all[j]) && other->overlaps(s)) {
      c.error(n.origin, "subnet",
              s.str() + " overlaps " + describe("network", all[j]) + " (" + other->str() + ")");
      return;
    }
  }
  for (const auto& u : c.config.uplinks) {
    if (u.address && s.contains(u.address->address)) {
      c.error(n.origin, "subnet",
              s.str() + " contains the address of " + describe("uplink", u) + " (" +
                  u.address->str() + ")");
      return;
    }
  }
}

void check_network_gateway(Checker& c, const Network& n) {
  if (!c.require(n.origin, "gateway", n.gateway.has_value()) || !usable_subnet(n)) return;
  const Ipv4 g = *n.gateway;
  const Cidr& s = *n.subnet;
  if (!s.contains(g)) {
    c.error(n.origin, "gateway", "gateway " + g.str() + " is outside the subnet " + s.str());
  } else if (g == s.first()) {
    c.error(n.origin, "gateway", "gateway " + g.str() + " is the network address of " + s.str());
  } else if (g == s.last()) {
    c.error(n.origin, "gateway", "gateway " + g.str() + " is the broadcast address of " + s.str());
  }
}

// The DHCP lease time needs DHCP; the automatic-address range lies in the subnet's host
// addresses.
void check_network_dhcp(Checker& c, const Network& n) {
  if (n.lease_time && !n.dhcp)
    c.error(n.origin, "lease_time", "a lease time needs dhcp: true (the network serves no DHCP)");
  if (!n.range || !usable_subnet(n)) return;
  const Cidr& s = *n.subnet;
  const auto [first, last] = *n.range;
  const std::string text = first.str() + "-" + last.str();
  if (last.value < first.value) {
    c.error(n.origin, "range", "the range " + text + " ends before it starts");
  } else if (!s.contains(first) || !s.contains(last)) {
    c.error(n.origin, "range", "the range " + text + " is not inside the subnet " + s.str());
  } else if (first == s.first() || last == s.last()) {
    c.error(n.origin, "range",
            "the range " + text + " holds the network or broadcast address of " + s.str());
  } else if (n.gateway && first == *n.gateway && last == *n.gateway) {
    c.error(n.origin, "range", "the range " + text + " holds only the gateway's address");
  }
}

void check_masquerade(Checker& c, const Network& n) {
  for (size_t k = 0; k < n.masquerade.size(); ++k) {
    const std::string& name = n.masquerade[k];
    std::string field = "masquerade[" + std::to_string(k) + "]";
    if (!c.require(n.origin, field, !name.empty())) continue;
    if (c.uplink(name) == nullptr) {
      c.error(n.origin, field, c.unknown("uplink", name, c.config.uplinks));
    } else if (std::find(n.masquerade.begin(), n.masquerade.begin() + static_cast<long>(k), name) !=
               n.masquerade.begin() + static_cast<long>(k)) {
      c.error(n.origin, field, "uplink " + quote(name) + " is listed twice");
    }
  }
}

}  // namespace

void check_networks(Checker& c) {
  const auto& all = c.config.networks;
  for (size_t i = 0; i < all.size(); ++i) {
    c.check_name(all[i], all, i, "network");
    check_bridge(c, all, i);
    check_subnet(c, all, i);
    check_network_gateway(c, all[i]);
    check_network_dhcp(c, all[i]);
    check_masquerade(c, all[i]);
  }
}

// The networks vmgwd follows libvirt's domains on must exist (each has a bridge: a domain's
// interface is matched by the bridge its tap is on), and be named once.
void check_libvirt(Checker& c) {
  if (!c.config.libvirt) return;
  const LibvirtFollow& l = *c.config.libvirt;
  std::set<std::string> seen;
  for (size_t i = 0; i < l.networks.size(); ++i) {
    const std::string field = "networks[" + std::to_string(i) + "]";
    if (!c.network(l.networks[i]))
      c.error(l.origin, field, "unknown network '" + l.networks[i] + "'");
    else if (!seen.insert(l.networks[i]).second)
      c.error(l.origin, field, "network '" + l.networks[i] + "' is listed twice");
  }
}

namespace {

void check_vm_mac(Checker& c, const std::vector<Vm>& all, size_t i) {
  const Vm& v = all[i];
  if (!c.require(v.origin, "mac", v.mac.has_value())) return;
  if (v.mac->is_zero()) {
    c.error(v.origin, "mac", v.mac->str() + " is not a usable MAC address");
    return;
  }
  if (v.mac->is_multicast()) {
    c.error(v.origin, "mac",
            v.mac->str() + " is a multicast MAC address (the first byte must be even)");
    return;
  }
  const size_t j = c.first_with("vm macs", all, v.mac->str(),
                                [](const Vm& x) { return x.mac ? x.mac->str() : ""; });
  if (j < i)
    c.error(v.origin, "mac",
            "MAC " + v.mac->str() + " is already used by " + describe("vm", all[j]));
}

void check_vm_ip(Checker& c, const std::vector<Vm>& all, size_t i, const Network* net) {
  const Vm& v = all[i];
  if (!c.require(v.origin, "ip", v.ip.has_value())) return;
  const Ipv4 ip = *v.ip;
  if (net != nullptr && usable_subnet(*net)) {
    const Cidr& s = *net->subnet;
    std::string where = describe("network", *net) + " (" + s.str() + ")";
    if (!s.contains(ip)) {
      c.error(v.origin, "ip", ip.str() + " is outside " + where);
      return;
    }
    if (ip == s.first()) {
      c.error(v.origin, "ip", ip.str() + " is the network address of " + where);
      return;
    }
    if (ip == s.last()) {
      c.error(v.origin, "ip", ip.str() + " is the broadcast address of " + where);
      return;
    }
    if (net->gateway && ip == *net->gateway) {
      c.error(v.origin, "ip", ip.str() + " is the gateway of " + describe("network", *net));
      return;
    }
  }
  const size_t j = c.first_with("vm addresses", all, ip.str(),
                                [](const Vm& x) { return x.ip ? x.ip->str() : ""; });
  if (j < i) c.error(v.origin, "ip", ip.str() + " is already used by " + describe("vm", all[j]));
}

void check_vm_port(Checker& c, const std::vector<Vm>& all, size_t i) {
  const Vm& v = all[i];
  if (v.port.empty()) return;
  if (!is_valid_device_name(v.port)) {
    c.error(v.origin, "port", bad_device(v.port));
    return;
  }
  for (const auto& u : c.config.uplinks) {
    if (u.device == v.port) {
      c.error(v.origin, "port",
              "port " + quote(v.port) + " is the device of " + describe("uplink", u));
      return;
    }
  }
  for (const auto& n : c.config.networks) {
    if (n.bridge == v.port) {
      c.error(v.origin, "port",
              "port " + quote(v.port) + " is the bridge of " + describe("network", n));
      return;
    }
  }
  const size_t j = c.first_with("vm ports", all, v.port, [](const Vm& x) { return x.port; });
  if (j < i)
    c.error(v.origin, "port",
            "port " + quote(v.port) + " is already used by " + describe("vm", all[j]));
}

// Which filters exist and whether their variables resolve is checked against the filter catalog
// (compile/vm_filters.h); here only what the config alone can tell.
void check_vm_filters(Checker& c, const Vm& v) {
  if (!v.filters.empty() && v.port.empty()) {
    c.error(v.origin, "filters",
            "a VM with filters needs its bridge port (port: the tap/veth device): layer-2 "
            "filter rules are bound to the port");
  }
  for (size_t k = 0; k < v.filters.size(); ++k) {
    const VmFilter& f = v.filters[k];
    if (f.filter.empty())
      c.error(v.origin, "filters[" + std::to_string(k) + "].filter", "missing: the filter's name");
  }
  if (v.quarantine) {
    for (const auto& cidr : v.quarantine->allow_from) {
      if (cidr.prefix == 0)
        c.error(v.origin, "quarantine.allow_from",
                "0.0.0.0/0 would allow everything: name the management sources");
    }
  }
}

}  // namespace

void check_vms(Checker& c) {
  const auto& all = c.config.vms;
  for (size_t i = 0; i < all.size(); ++i) {
    const Vm& v = all[i];
    c.check_name(v, all, i, "vm");
    const Network* net = nullptr;
    if (c.require(v.origin, "network", !v.network.empty())) {
      net = c.network(v.network);
      if (net == nullptr)
        c.error(v.origin, "network", c.unknown("network", v.network, c.config.networks));
    }
    check_vm_mac(c, all, i);
    check_vm_ip(c, all, i, net);
    check_vm_port(c, all, i);
    check_vm_filters(c, v);
  }
}

namespace {

// Objects built through the API rather than parsed have no path: give them one so that every
// message says which object it is about.
template <typename T>
void default_paths(std::vector<T>& all, const std::string& prefix) {
  for (size_t i = 0; i < all.size(); ++i) {
    if (all[i].origin.path.empty()) all[i].origin.path = prefix + "[" + std::to_string(i) + "]";
  }
}

}  // namespace
}  // namespace detail

std::variant<Validated<Config>, Diagnostics> validate(Config config) {
  detail::default_paths(config.uplinks, "uplinks");
  detail::default_paths(config.networks, "networks");
  detail::default_paths(config.vms, "vms");
  detail::default_paths(config.port_forwards, "port_forwards");
  detail::default_paths(config.eip_pools, "elastic_ips.pools");
  detail::default_paths(config.eip_bindings, "elastic_ips.bindings");
  detail::default_paths(config.host.allow, "host.allow");
  detail::default_paths(config.dscp, "dscp");
  if (config.libvirt && config.libvirt->origin.path.empty())
    config.libvirt->origin.path = "libvirt";

  detail::Checker c(config);
  detail::check_uplinks(c);
  detail::check_networks(c);
  detail::check_vms(c);
  detail::check_port_forwards(c);
  detail::check_elastic_ip_pools(c);
  detail::check_elastic_ip_bindings(c);
  detail::check_host(c);
  detail::check_uplink_routing(c);
  detail::check_network_uplinks(c);
  detail::check_dscp(c);
  detail::check_libvirt(c);

  if (c.errors.empty()) return Validated<Config>(std::move(config));
  Diagnostics errors = std::move(c.errors);
  std::stable_sort(errors.begin(), errors.end(), [](const Diagnostic& a, const Diagnostic& b) {
    if (a.where.line != b.where.line) return a.where.line < b.where.line;
    return a.where.column < b.where.column;
  });
  return errors;
}

}  // namespace vmgw
