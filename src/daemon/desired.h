// The daemon's desired state: the topology declared in the config file plus the objects created
// through the API (from the store), as one Config the validator and compiler already know.
#pragma once

#include "model/config.h"
#include "store/state.h"

namespace vmgw::daemon {

// Appends the stored VMs, forwards and elastic IP bindings to `topology` (which may declare some
// of its own). Stored objects get paths naming them ("vm 'web'") so errors point at them.
Config desired_config(const Config& topology, const store::StoredState& state);

// Converters between API/store records and model objects.
Vm to_vm(const store::VmRecord& r, const std::string& path);
PortForward to_forward(const store::ForwardRecord& r, const std::string& path);

}  // namespace vmgw::daemon
