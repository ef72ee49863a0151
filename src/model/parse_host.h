// The host's own policy in the config parser (parse_host.cpp): its services, ICMP lists and
// outbound policy. Internal to model/.
#pragma once

#include <string>

#include "model/config.h"
#include "model/yaml_reader.h"

namespace vmgw::detail {

// A `host.allow[]` or `host.output.allow[]` entry: proto, port, interface, from, to.
void parse_host_service(YamlReader& r, const YAML::Node& n, const std::string& path,
                        HostService& s);
// "80", "8000-8010" or a service name over `proto` ("ssh"): the range, or nullopt after an
// error naming what is wrong.
std::optional<PortRange> port_or_service(YamlReader& r, const std::string& text,
                                         const Location& where, const std::string& path,
                                         Proto proto);
// A list of ICMP types: each a name or number, or {type, code}.
std::vector<IcmpMatch> parse_icmp_list(YamlReader& r, const YAML::Node& n, const std::string& path);
// `helpers` of a network or of the host: connection-tracking helper names, each known and once.
std::vector<std::string> parse_helpers(YamlReader& r, const YAML::Node& n, const std::string& path);
// `host.output`: policy, allow, icmp.
void parse_host_output(YamlReader& r, const YAML::Node& n, const std::string& path,
                       HostOutput& out);

}  // namespace vmgw::detail
