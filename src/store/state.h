// What the daemon keeps between restarts: the objects created through the API (VMs with their
// filter bindings and quarantine, filters, elastic IP allocations and bindings, port forwards),
// the generation in force, and DHCP lease events.
// The host topology (uplinks, networks, pools, host protection) comes from the config file.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "model/lease_event.h"
#include "model/net.h"

namespace vmgw::store {

// A filter defined by the operator (libvirt nwfilter XML, kept exactly as defined).
struct FilterRecord {
  std::string name;
  std::string xml;
  bool operator==(const FilterRecord&) const = default;
};

// A VM's reference to a filter; params are ordered (a repeated name makes a list variable).
// The filter need not be defined in the store: the daemon checks references.
struct FilterBindingRecord {
  std::string filter;
  std::vector<std::pair<std::string, std::string>> params;
  bool operator==(const FilterBindingRecord&) const = default;
};

// Quarantine: all of the VM's traffic cut except these management sources (in order).
struct QuarantineRecord {
  std::vector<Cidr> allow_from;
  bool operator==(const QuarantineRecord&) const = default;
};

struct VmRecord {
  std::string name;
  std::string network;
  Mac mac;
  Ipv4 ip;
  std::string port;                          // bridge port device; may be empty
  std::vector<FilterBindingRecord> filters;  // in the order given
  std::optional<QuarantineRecord> quarantine;
  // Who made it: "" through the API, "libvirt:<domain uuid>" from a followed libvirt domain
  // (such a VM is changed in libvirt, not through the API).
  std::string owner;
  bool operator==(const VmRecord&) const = default;
};

// An allocated elastic IP; bound when `vm` is not empty.
struct EipRecord {
  Ipv4 address;
  std::string pool;
  std::string vm;
  bool operator==(const EipRecord&) const = default;
};

// Identified by (public_address, proto, public_ports.first).
struct ForwardRecord {
  Ipv4 public_address;
  Proto proto = Proto::tcp;
  PortRange public_ports;
  std::string vm;
  PortRange vm_ports;
  bool operator==(const ForwardRecord&) const = default;
};

using LeaseEventRecord = LeaseEvent;

struct StoredState {
  std::vector<VmRecord> vms;            // sorted by name
  std::vector<FilterRecord> filters;    // sorted by name
  std::vector<EipRecord> eips;          // sorted by address
  std::vector<ForwardRecord> forwards;  // sorted by address, proto, first port
  uint64_t generation = 0;              // bumped by every committed change
  bool operator==(const StoredState&) const = default;
};

}  // namespace vmgw::store
