// Between the configuration and the probe engine: what each uplink's probes are (from the
// topology and the numbers the plan gave it), and what the engine's states mean for routing.
// Pure.
#pragma once

#include <vector>

#include "compile/compile.h"
#include "daemon/uplink_health.h"
#include "model/config.h"

namespace vmgw::daemon {

// One spec per uplink of `topology`, sent through its device, from its address, with its mark
// (`plan` has the numbers). Probing disabled, or no target and no gateway to default to: no
// targets, so the uplink follows its link state only.
std::vector<UplinkProbeSpec> probe_specs(const Config& topology, const Plan& plan);

// The monitor's states as the compiler's conditions: alive = up.
UplinkConditions conditions_of(const std::vector<UplinkStatus>& status);

}  // namespace vmgw::daemon
