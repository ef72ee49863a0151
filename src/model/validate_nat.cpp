// Validation of the NAT side of a Config: port forwards, elastic IP pools and bindings, and the
// host's own policy. See validate.cpp for the invariants they establish.

#include <algorithm>
#include <cstdint>
#include <map>

#include "model/validate.h"
#include "model/validate_internal.h"

namespace vmgw::detail {
namespace {

bool in_pool(const ElasticIpPool& p, Ipv4 a) {
  return p.first && p.last && *p.first <= a && a <= *p.last;
}

std::string range_str(const ElasticIpPool& p) {
  return p.first->str() + "-" + p.last->str();
}

// The field a pool's addresses came from, for locating messages about them.
std::string range_field(const ElasticIpPool& p) {
  return p.origin.fields.count("range") != 0 ? "range" : "cidr";
}

bool is_uplink_address(const Checker& c, Ipv4 a) {
  return std::any_of(c.config.uplinks.begin(), c.config.uplinks.end(),
                     [&](const Uplink& u) { return u.address && u.address->address == a; });
}

bool in_some_pool(const Checker& c, Ipv4 a) {
  return std::any_of(c.config.eip_pools.begin(), c.config.eip_pools.end(),
                     [&](const ElasticIpPool& p) { return in_pool(p, a); });
}

// Whether the forward's public side is complete and sane; used to compare forwards pairwise.
bool check_public(Checker& c, const PortForward& f) {
  bool present = f.public_address && f.public_ports;
  if (!c.require(f.origin, "public", present)) return false;
  bool ok = c.check_ports(f.origin, "public", *f.public_ports);
  if (!is_uplink_address(c, *f.public_address) && !in_some_pool(c, *f.public_address)) {
    c.error(
        f.origin, "public",
        f.public_address->str() + " is neither an uplink address nor inside an elastic IP pool");
  }
  return ok;
}

void check_to(Checker& c, const PortForward& f, bool public_ok) {
  if (!c.require(f.origin, "to", !f.vm.empty() && f.vm_ports)) return;
  if (c.vm(f.vm) == nullptr) c.error(f.origin, "to", c.unknown("vm", f.vm, c.config.vms));
  if (!c.check_ports(f.origin, "to", *f.vm_ports) || !public_ok) return;
  if (f.vm_ports->size() != f.public_ports->size()) {
    c.error(f.origin, "to",
            "public range has " + std::to_string(f.public_ports->size()) +
                " ports but the VM range has " + std::to_string(f.vm_ports->size()));
  }
}

}  // namespace

void check_port_forwards(Checker& c) {
  const auto& all = c.config.port_forwards;
  std::vector<bool> public_ok(all.size(), false);
  uint64_t ports = 0;
  struct Earlier {  // the usable forwards seen so far of one address and protocol
    std::map<uint32_t, size_t> by_first;  // while they are disjoint
    std::vector<size_t> all;
    bool disjoint = true;
  };
  std::map<std::pair<uint32_t, int>, Earlier> earlier;
  for (size_t i = 0; i < all.size(); ++i) {
    const PortForward& f = all[i];
    public_ok[i] = check_public(c, f);
    check_to(c, f, public_ok[i]);
    if (!public_ok[i]) continue;
    ports += f.public_ports->size();
    if (ports > kMaxForwardedPorts && ports - f.public_ports->size() <= kMaxForwardedPorts) {
      c.error(f.origin, "public",
              "port forwards span " + std::to_string(ports) + " ports so far; at most " +
                  std::to_string(kMaxForwardedPorts) +
                  " in all (each forwarded port is one element in the kernel's forward maps)");
    }
    // The first earlier forward of the same address and protocol whose ports overlap. While
    // the earlier ones are disjoint (no error yet), only those starting inside the range, and
    // the one starting before it, can overlap: a sorted lookup, not a scan of all of them.
    auto& group = earlier[{f.public_address->value, static_cast<int>(f.proto)}];
    const PortRange& range = *f.public_ports;
    size_t j = SIZE_MAX;
    if (group.disjoint) {
      auto it = group.by_first.lower_bound(range.first);
      if (it != group.by_first.begin()) {
        auto prev = std::prev(it);
        if (all[prev->second].public_ports->overlaps(range)) j = prev->second;
      }
      for (; it != group.by_first.end() && it->first <= range.last; ++it)
        j = std::min(j, it->second);
    } else {
      for (size_t k : group.all)
        if (all[k].public_ports->overlaps(range)) j = std::min(j, k);
    }
    if (j != SIZE_MAX) {
      const PortForward& g = all[j];
      uint32_t port = std::max(f.public_ports->first, g.public_ports->first);
      c.error(f.origin, "public",
              f.public_address->str() + ":" + std::to_string(port) + "/" +
                  std::string(to_string(f.proto)) + " is already forwarded by " + g.origin.path);
      group.disjoint = false;
    }
    group.all.push_back(i);
    if (group.disjoint && !group.by_first.emplace(range.first, i).second) group.disjoint = false;
  }
}

void check_elastic_ip_pools(Checker& c) {
  const auto& all = c.config.eip_pools;
  for (size_t i = 0; i < all.size(); ++i) {
    const ElasticIpPool& p = all[i];
    c.check_name(p, all, i, "pool");
    if (c.require(p.origin, "uplink", !p.uplink.empty()) && c.uplink(p.uplink) == nullptr) {
      c.error(p.origin, "uplink", c.unknown("uplink", p.uplink, c.config.uplinks));
    }
    bool given = p.first && p.last;
    if (!given) {
      if (p.origin.fields.count("cidr") == 0 && p.origin.fields.count("range") == 0) {
        c.error(p.origin, "cidr", "missing required field (give cidr or range)");
      }
      continue;
    }
    std::string field = range_field(p);
    if (*p.first > *p.last) {
      c.error(p.origin, field, "reversed range " + range_str(p));
      continue;
    }
    bool reported = false;
    for (size_t j = 0; j < i && !reported; ++j) {
      const ElasticIpPool& q = all[j];
      if (q.first && q.last && *q.first <= *q.last && *p.first <= *q.last && *q.first <= *p.last) {
        c.error(p.origin, field,
                range_str(p) + " overlaps " + describe("pool", q) + " (" + range_str(q) + ")");
        reported = true;
      }
    }
    for (const auto& u : c.config.uplinks) {
      if (reported) break;
      if (u.address && in_pool(p, u.address->address)) {
        c.error(p.origin, field,
                range_str(p) + " contains the address of " + describe("uplink", u) + " (" +
                    u.address->address.str() + ")");
        reported = true;
      }
    }
  }
}

void check_elastic_ip_bindings(Checker& c) {
  const auto& all = c.config.eip_bindings;
  for (size_t i = 0; i < all.size(); ++i) {
    const ElasticIpBinding& b = all[i];
    if (c.require(b.origin, "vm", !b.vm.empty())) {
      if (c.vm(b.vm) == nullptr) {
        c.error(b.origin, "vm", c.unknown("vm", b.vm, c.config.vms));
      } else {
        const size_t j = c.first_with("bound vms", all, b.vm, [](const ElasticIpBinding& x) {
          return x.address ? x.vm : std::string();
        });
        if (j < i) {
          c.error(b.origin, "vm",
                  "vm " + quote(b.vm) + " already has elastic IP " + all[j].address->str() + " (" +
                      all[j].origin.path + ")");
        }
      }
    }
    const ElasticIpPool* pool = nullptr;
    if (!b.pool.empty()) {
      pool = c.pool(b.pool);
      if (pool == nullptr) c.error(b.origin, "pool", c.unknown("pool", b.pool, c.config.eip_pools));
    }
    if (!c.require(b.origin, "address", b.address.has_value())) continue;
    const Ipv4 a = *b.address;
    if (pool != nullptr) {
      if (pool->first && pool->last && !in_pool(*pool, a)) {
        c.error(b.origin, "address",
                a.str() + " is outside " + describe("pool", *pool) + " (" + range_str(*pool) + ")");
      }
    } else if (b.pool.empty() && !in_some_pool(c, a)) {
      c.error(b.origin, "address", a.str() + " is outside every elastic IP pool");
    }
    const size_t j = c.first_with("bound addresses", all, a.str(), [](const ElasticIpBinding& x) {
      return x.address ? x.address->str() : std::string();
    });
    if (j < i) {
      std::string owner = all[j].vm.empty() ? "" : " to vm " + quote(all[j].vm);
      c.error(b.origin, "address",
              a.str() + " is already bound" + owner + " (" + all[j].origin.path + ")");
    }
  }
}

namespace {

void check_services(Checker& c, const std::vector<HostService>& services) {
  for (const auto& s : services) {
    if (c.require(s.origin, "port", !s.ports.empty()))
      for (const auto& range : s.ports) c.check_ports(s.origin, "port", range);
    for (const auto& name : s.interfaces)
      if (!is_valid_device_name(name)) c.error(s.origin, "interface", bad_device(name));
  }
}

void check_icmp_list(Checker& c, const std::vector<IcmpMatch>& list) {
  for (size_t i = 0; i < list.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (list[j] == list[i] && list[i].type) {
        c.error(list[i].origin, "",
                quote(list[i].text) + " is listed twice (" + list[j].origin.path + ")");
        break;
      }
    }
  }
}

}  // namespace

void check_host(Checker& c) {
  for (const auto& n : c.config.networks) {
    if (n.icmp_out) check_icmp_list(c, *n.icmp_out);
    if (n.icmp_in) check_icmp_list(c, *n.icmp_in);
  }
  const HostPolicy& host = c.config.host;
  check_services(c, host.allow);
  if (host.icmp) {
    check_icmp_list(c, *host.icmp);
    if (host.allow_ping_given)
      c.error(host.origin, "allow_ping",
              "give ping as echo-request in host.icmp: host.icmp is the whole list of ICMP "
              "types the host lets in");
  }
  const HostOutput& out = host.output;
  check_services(c, out.allow);
  check_icmp_list(c, out.icmp);
  if (!out.drop) {
    const char* why =
        " does nothing while host.output.policy is accept (the host may send anything): set "
        "policy: drop to make it the only ways out";
    if (!out.allow.empty()) c.error(out.origin, "allow", std::string("the list") + why);
    if (out.icmp_given) c.error(out.origin, "icmp", std::string("the list") + why);
  }
}

}  // namespace vmgw::detail
