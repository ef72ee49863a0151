// What an API change needs to be validated and compiled: the topology with only the objects the
// change touches and those it could conflict with or refers to, instead of the whole desired
// config. The objects in force were valid, so a new error can only involve a changed object:
// validating the scope finds every error the whole config would have (the rules are per object,
// pairwise between objects that share a key, or references, and the scope holds both sides of
// each), except the few that need the whole config, which set `needs_whole`.
#pragma once

#include <set>
#include <string>
#include <vector>

#include "daemon/objects.h"
#include "model/config.h"

namespace vmgw::daemon {

struct ChangeScope {
  // The topology and the objects, in the desired config's order and with its paths (so a
  // refusal reads the same as one found in the whole config).
  Config config;
  std::set<std::string> keys;  // the objects whose contributions change (compile's object_key)
  bool needs_whole = false;    // e.g. the forwarded ports of all forwards together
};

// `recompiled_vms`: VMs whose records do not change but whose rules may (they use a filter the
// change defines or removes). With `as_in_force`, the same objects (the same keys) as they are
// before the change, and nothing they could conflict with: what undoing the change compiles.
ChangeScope change_scope(const Config& topology, const Objects& in_force, const StateChange& c,
                         const std::vector<std::string>& recompiled_vms, bool as_in_force = false);

// The whole desired config once `c` is made: O(N), to explain a refusal with every error.
Config desired_after(const Config& topology, const Objects& in_force, const StateChange& c);

}  // namespace vmgw::daemon
