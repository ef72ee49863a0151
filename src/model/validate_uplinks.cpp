// Validation of the multi-uplink parts of a Config: uplink addresses and probes, the uplinks a
// network may use, and DSCP rules. After it succeeds the compiler may also rely on:
//  - uplink addresses are distinct; probe targets are not the uplink's own address;
//  - a network's `uplinks` name existing uplinks, each once, and include its masquerade uplinks;
//  - a DSCP rule selects exactly one of vm, network or from; what it names exists; its ports
//    are 1..65535; its dscp is set.
#include <algorithm>

#include "model/validate_internal.h"

namespace vmgw::detail {

void check_uplink_routing(Checker& c) {
  const auto& all = c.config.uplinks;
  for (size_t i = 0; i < all.size(); ++i) {
    const Uplink& u = all[i];
    if (!u.address) continue;
    for (size_t j = 0; j < i; ++j) {
      if (all[j].address && all[j].address->address == u.address->address) {
        c.error(
            u.origin, "address",
            u.address->address.str() + " is already the address of " + describe("uplink", all[j]));
        break;
      }
    }
    for (size_t k = 0; k < u.probe.targets.size(); ++k) {
      if (u.probe.targets[k].address == u.address->address)
        c.error(u.origin, "probe.targets[" + std::to_string(k) + "]",
                u.address->address.str() +
                    " is the uplink's own address: probe something beyond it (its gateway, or "
                    "a host on the internet)");
    }
  }
}

void check_network_uplinks(Checker& c) {
  for (const Network& n : c.config.networks) {
    for (size_t k = 0; k < n.uplinks.size(); ++k) {
      const std::string& name = n.uplinks[k];
      std::string field = "uplinks[" + std::to_string(k) + "]";
      if (!c.require(n.origin, field, !name.empty())) continue;
      if (c.uplink(name) == nullptr) {
        c.error(n.origin, field, c.unknown("uplink", name, c.config.uplinks));
      } else if (std::count(n.uplinks.begin(), n.uplinks.begin() + static_cast<long>(k), name)) {
        c.error(n.origin, field, "uplink " + quote(name) + " is listed twice");
      }
    }
    if (n.uplinks.empty()) continue;
    for (size_t k = 0; k < n.masquerade.size(); ++k) {
      const std::string& name = n.masquerade[k];
      if (c.uplink(name) != nullptr &&
          std::find(n.uplinks.begin(), n.uplinks.end(), name) == n.uplinks.end())
        c.error(n.origin, "masquerade[" + std::to_string(k) + "]",
                "uplink " + quote(name) +
                    " is not one of the network's uplinks: its traffic never leaves there");
    }
  }
}

void check_dscp(Checker& c) {
  for (const DscpRule& d : c.config.dscp) {
    int selectors = (d.vm.empty() ? 0 : 1) + (d.network.empty() ? 0 : 1) + (d.from ? 1 : 0);
    bool from_given = d.origin.fields.count("from") != 0;
    if (selectors == 0 && !from_given) {
      c.error(d.origin, "", "say whose traffic it marks: vm, network or from (a prefix)");
    } else if (selectors > 1) {
      c.error(d.origin, d.vm.empty() ? "from" : "vm",
              "give one of vm, network and from, not several");
    }
    if (!d.vm.empty() && c.vm(d.vm) == nullptr)
      c.error(d.origin, "vm", c.unknown("vm", d.vm, c.config.vms));
    if (!d.network.empty() && c.network(d.network) == nullptr)
      c.error(d.origin, "network", c.unknown("network", d.network, c.config.networks));
    if (d.ports) c.check_ports(d.origin, "port", *d.ports);
    c.require(d.origin, "dscp", d.dscp.has_value());
  }
}

}  // namespace vmgw::detail
