// The host's own policy. In (filter_input, policy drop): replies, loopback, IPv6 neighbour
// discovery, the ICMP types listed (ping by default), DHCP to its dnsmasq, and the declared
// services. Out (filter_output, only with host.output.policy drop): replies, loopback, neighbour
// discovery, what vmgw itself sends (DHCP replies, uplink probes), the ICMP types listed and the
// declared connections. ICMP errors about accepted flows (PMTU's frag-needed included) are
// `related` and pass both ways; unrelated ones are dropped.
#include "compile/compile.h"
#include "compile/drop_log.h"
#include "compile/parts.h"
#include "model/icmp.h"

namespace vmgw::compile_detail {
namespace {

using nft::Json;

enum class Way { in, out };

std::vector<Json> service_match(const HostService& s, Way way) {
  std::vector<Json> m;
  if (!s.interface.empty())
    m.push_back(nft::match(nft::meta(way == Way::in ? "iifname" : "oifname"), s.interface));
  if (s.from) m.push_back(nft::match(nft::payload("ip", "saddr"), nft::prefix(*s.from)));
  if (s.to) m.push_back(nft::match(nft::payload("ip", "daddr"), nft::prefix(*s.to)));
  m.push_back(nft::match(nft::meta("l4proto"), protocol_number(s.proto)));
  m.push_back(nft::match(nft::payload("th", "dport"), nft::port_value(*s.ports)));
  return m;
}

std::string service_comment(const HostService& s, Way way) {
  std::string c = way == Way::in ? "host: allow " : "host: may open ";
  c += std::string(to_string(s.proto)) + "/" + s.ports->str();
  if (s.from) c += " from " + s.from->str();
  if (s.to) c += " to " + s.to->str();
  if (!s.interface.empty()) c += (way == Way::in ? " on " : " via ") + s.interface;
  return c;
}

// nft lists known ICMP values by name: the plan writes them so, or the diff never settles.
Json icmp_value(uint8_t v, bool code) {
  auto name = code ? icmp_code_name(v) : icmp_type_name(v);
  return name ? Json(*name) : Json(v);
}

nft::Rule icmp_rule(const IcmpMatch& m, const std::string& comment) {
  std::vector<Json> e{nft::match(nft::payload("icmp", "type"), icmp_value(*m.type, false))};
  if (m.code) e.push_back(nft::match(nft::payload("icmp", "code"), icmp_value(*m.code, true)));
  e.push_back(nft::counter());
  e.push_back(nft::accept());
  return {e, comment};
}

std::string icmp_text(const IcmpMatch& m) {
  std::string t = icmp_value(*m.type, false).is_string()
                      ? icmp_value(*m.type, false).get<std::string>()
                      : std::to_string(*m.type);
  if (m.code) {
    Json c = icmp_value(*m.code, true);
    t += "/" + (c.is_string() ? c.get<std::string>() : std::to_string(*m.code));
  }
  return t;
}

void common_start(std::vector<nft::Rule>& rules, Way way) {
  established_then_invalid(rules);
  rules.push_back({{nft::match(nft::meta(way == Way::in ? "iif" : "oif"), "lo"), nft::accept()},
                   "the host talking to itself"});
  // IPv6 neighbour discovery keeps the host's links working; everything else IPv6 is dropped.
  rules.push_back({{nft::match(nft::payload("icmpv6", "type"),
                               nft::anonymous_set({"nd-router-solicit", "nd-router-advert",
                                                   "nd-neighbor-solicit", "nd-neighbor-advert"})),
                    nft::accept()},
                   "IPv6 neighbour discovery"});
}

void compile_input(const Index& ix, nft::Table& t) {
  const HostPolicy& host = ix.config.host;
  auto end = logged_drop(t, NftTable::inet, "log_input", log_prefix("drop", "-", "host: input"),
                         host.drop_log);
  auto& in = chain_named(t, names::kFilterInput).rules;
  common_start(in, Way::in);
  if (host.icmp) {
    for (const auto& m : *host.icmp) in.push_back(icmp_rule(m, "host: allow icmp " + icmp_text(m)));
  } else if (host.allow_ping) {
    in.push_back(
        {{nft::match(nft::payload("icmp", "type"), "echo-request"), nft::counter(), nft::accept()},
         "host: allow ping"});
  }
  in.push_back({{nft::match(nft::meta("iifname"), nft::set_ref(names::kDhcpIfs)),
                 nft::match(nft::payload("udp", "dport"), 67), nft::accept()},
                "DHCP requests to the host's dnsmasq"});
  for (const auto& s : host.allow) {
    auto m = service_match(s, Way::in);
    m.push_back(nft::counter());
    m.push_back(nft::accept());
    in.push_back({m, service_comment(s, Way::in)});
  }
  in.push_back({end, "host: everything else"});
}

// What vmgwd sends on its own: probes through each uplink to its targets.
void vmgw_own_output(const Index& ix, std::vector<nft::Rule>& out) {
  out.push_back({{nft::match(nft::meta("oifname"), nft::set_ref(names::kDhcpIfs)),
                  nft::match(nft::payload("udp", "sport"), 67), nft::accept()},
                 "DHCP replies of the host's dnsmasq"});
  for (const auto& u : ix.config.uplinks) {
    for (const auto& target : probe_targets(u)) {
      std::vector<Json> e{nft::match(nft::meta("oifname"), u.device),
                          nft::match(nft::payload("ip", "daddr"), target.address.str())};
      if (target.tcp_port == 0) {
        e.push_back(nft::match(nft::payload("icmp", "type"), "echo-request"));
      } else {
        e.push_back(nft::match(nft::payload("tcp", "dport"), target.tcp_port));
      }
      e.push_back(nft::accept());
      out.push_back({e, "uplink " + u.name + ": health probes"});
    }
  }
}

void compile_output(const Index& ix, nft::Table& t) {
  const HostOutput& policy = ix.config.host.output;
  if (!policy.drop) return;  // the default: the host may send anything, as without this section
  auto end = logged_drop(t, NftTable::inet, "log_output", log_prefix("drop", "-", "host: output"),
                         ix.config.host.drop_log);
  t.chains.push_back(
      nft::Chain{names::kFilterOutput, nft::Hook{"filter", "output", 0, "drop"}, {}});
  auto& out = t.chains.back().rules;
  common_start(out, Way::out);
  vmgw_own_output(ix, out);
  if (policy.icmp_given) {
    for (const auto& m : policy.icmp)
      out.push_back(icmp_rule(m, "host: may send icmp " + icmp_text(m)));
  } else {
    IcmpMatch ping;
    ping.type = 8;
    out.push_back(icmp_rule(ping, "host: may send icmp echo-request"));
  }
  for (const auto& s : policy.allow) {
    auto m = service_match(s, Way::out);
    m.push_back(nft::counter());
    m.push_back(nft::accept());
    out.push_back({m, service_comment(s, Way::out)});
  }
  out.push_back({end, "host: output: everything else"});
}

}  // namespace

void compile_host(const Index& ix, nft::Table& t) {
  compile_input(ix, t);
  compile_output(ix, t);
}

}  // namespace vmgw::compile_detail
