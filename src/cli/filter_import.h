// `vmgw filter import FILE|DIR...`: libvirt's filter files defined in vmgwd, each on its own
// (one POST /v1/filters per document), referenced filters first.
#pragma once

#include <string>
#include <vector>

#include "cli/daemon_commands.h"
#include "filter/import.h"

namespace vmgw::cli {

// Defines every source in vmgwd through `o`, in filter::definition_order, and prints one line
// per source: what became of it (defined, unchanged, replaces the built-in, refused and why).
// Returns kOk when none was refused, else the exit code of the first refusal. This is also the
// way in for filters read from a running libvirt (origin "libvirt:NAME").
int import_filters(const DaemonOptions& o, const std::vector<filter::FilterSource>& sources);

// The human text of a POST or DELETE /v1/filters answer ("filter web defined; rules of vm web
// updated in one transaction").
std::string defined_text(const nlohmann::json& d);

}  // namespace vmgw::cli
