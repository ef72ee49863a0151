// What the daemon keeps between restarts: the objects created through the API (VMs, elastic IP
// allocations and bindings, port forwards), the generation in force, and DHCP lease events.
// The host topology (uplinks, networks, pools, host protection) comes from the config file.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/lease_event.h"
#include "model/net.h"

namespace vmgw::store {

struct VmRecord {
  std::string name;
  std::string network;
  Mac mac;
  Ipv4 ip;
  std::string port;  // bridge port device; may be empty
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
  std::vector<EipRecord> eips;          // sorted by address
  std::vector<ForwardRecord> forwards;  // sorted by address, proto, first port
  uint64_t generation = 0;              // bumped by every committed change
  bool operator==(const StoredState&) const = default;
};

}  // namespace vmgw::store
