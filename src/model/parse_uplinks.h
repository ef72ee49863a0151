// The multi-uplink parts of the config parser (parse_uplinks.cpp). Internal to model/.
#pragma once

#include <string>

#include "model/config.h"
#include "model/yaml_reader.h"

namespace vmgw::detail {

// An `uplinks[]` entry: name, device, address, gateway, weight, tier, probe.
void parse_uplink(YamlReader& r, const YAML::Node& n, const std::string& path, Uplink& u);
// A network's `uplinks`, `mode` and `failback` fields; false if `key` is none of them.
bool parse_network_routing(YamlReader& r, const std::string& key, const YAML::Node& v,
                           const std::string& p, Network& net);
// The top-level `balance_by`: connection, destination or source.
void parse_balance_by(YamlReader& r, const YAML::Node& v, const std::string& p, BalanceBy& out);
// A `dscp[]` entry: vm | network | from, proto, port, dscp.
void parse_dscp_rule(YamlReader& r, const YAML::Node& n, const std::string& path, DscpRule& d);

}  // namespace vmgw::detail
