// The daemon's desired state: the topology declared in the config file plus the objects created
// through the API (from the store), as one Config the validator and compiler already know.
#pragma once

#include "model/config.h"
#include "store/state.h"

namespace vmgw::daemon {

// Appends the stored VMs, forwards and elastic IP bindings to `topology` (which may declare some
// of its own). Stored objects get paths naming them ("vm 'web'") so errors point at them.
Config desired_config(const Config& topology, const store::StoredState& state);

// The paths stored objects get in the desired config (and so in validation errors).
std::string vm_path(const std::string& name);             // "vm 'web'"
std::string forward_path(const store::ForwardRecord& f);  // "forward 203.0.113.2:8080/tcp"
std::string binding_path(Ipv4 address);                   // "elastic IP 203.0.113.17"

// Converters between API/store records and model objects.
Vm to_vm(const store::VmRecord& r, const std::string& path);
PortForward to_forward(const store::ForwardRecord& r, const std::string& path);

}  // namespace vmgw::daemon
