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

// One value, or an anonymous set of alternatives (`{ 22, 80, 8000-8100 }`): host rules are the
// operator's few, so their sets stay small.
template <typename T, typename F>
Json one_or_set(const std::vector<T>& values, F to_json) {
  if (values.size() == 1) return to_json(values[0]);
  Json set = Json::array();
  for (const auto& v : values) set.push_back(to_json(v));
  return {{"set", set}};
}

std::vector<Json> service_match(const HostService& s, Way way) {
  std::vector<Json> m;
  auto prefix = [](const Cidr& c) { return nft::prefix(c); };
  if (!s.interfaces.empty())
    m.push_back(nft::match(nft::meta(way == Way::in ? "iifname" : "oifname"),
                           one_or_set(s.interfaces, [](const std::string& n) { return Json(n); })));
  if (!s.from.empty())
    m.push_back(nft::match(nft::payload("ip", "saddr"), one_or_set(s.from, prefix)));
  if (!s.to.empty()) m.push_back(nft::match(nft::payload("ip", "daddr"), one_or_set(s.to, prefix)));
  m.push_back(nft::match(nft::meta("l4proto"), protocol_number(s.proto)));
  m.push_back(nft::match(nft::payload("th", "dport"), one_or_set(s.ports, [](const PortRange& p) {
                           return nft::port_value(p);
                         })));
  return m;
}

std::string joined(const std::vector<std::string>& parts) {
  std::string out;
  for (const auto& p : parts) out += (out.empty() ? "" : ",") + p;
  return out;
}

std::string service_comment(const HostService& s, Way way) {
  std::string c = way == Way::in ? "host: allow " : "host: may open ";
  c += std::string(to_string(s.proto)) + "/" + joined(s.port_text);
  auto prefixes = [](const std::vector<Cidr>& v) {
    std::vector<std::string> t;
    for (const auto& x : v) t.push_back(x.str());
    return t;
  };
  if (!s.from.empty()) c += " from " + joined(prefixes(s.from));
  if (!s.to.empty()) c += " to " + joined(prefixes(s.to));
  if (!s.interfaces.empty()) c += (way == Way::in ? " on " : " via ") + joined(s.interfaces);
  return c;
}

Json limit_of(const ConnectionRate& r) {
  return {{"limit", {{"rate", r.count}, {"burst", r.count}, {"per", r.unit}}}};
}

// The rules of one allow-list entry: over its per-source rate a source's new connections are
// dropped and counted here (a scan or a flood, by name in the counters); over the entry's own
// rate they fall through to the default drop, logged there.
void service_rules(nft::Table& t, const HostService& s, Way way, std::vector<nft::Rule>& out) {
  const std::string name = service_comment(s, way);
  if (s.per_source) {
    nft::Set sources;
    sources.name = "new_per_source-" + nft::Rule{service_match(s, way), name}.id();
    sources.type = "ipv4_addr";
    sources.flags = {"timeout"};
    sources.size = 65536;
    sources.filled_by_kernel = true;
    sources.comment =
        name + ": new connections per source (per_source " + s.per_source->str() + ")";
    Json limit = limit_of(*s.per_source);
    limit["limit"]["inv"] = true;  // over the rate: the match is true
    auto m = service_match(s, way);
    m.push_back(nft::match(nft::ct("state"), "new", "in"));
    m.push_back({{"set",
                  {{"op", "update"},
                   {"elem", {{"elem", {{"val", nft::payload("ip", "saddr")}, {"timeout", 60}}}}},
                   {"set", nft::set_ref(sources.name)},
                   {"stmt", Json::array({limit})}}}});
    m.push_back(nft::counter());
    m.push_back(nft::drop());
    out.push_back({m, name + ": over " + s.per_source->str() + " from one source"});
    t.sets.push_back(std::move(sources));
  }
  auto m = service_match(s, way);
  if (s.limit) m.push_back(limit_of(*s.limit));
  m.push_back(nft::counter());
  m.push_back(nft::accept());
  out.push_back({m, name + (s.limit ? " (" + s.limit->str() + ")" : "")});
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
  for (const auto& s : host.allow) service_rules(t, s, Way::in, in);
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
  for (const auto& s : policy.allow) service_rules(t, s, Way::out, out);
  out.push_back({end, "host: output: everything else"});
}

}  // namespace

namespace {

// nft lists known ICMP values by name: the plan writes them so, or the diff never settles.
Json icmp_value(uint8_t v, bool code) {
  auto name = code ? icmp_code_name(v) : icmp_type_name(v);
  return name ? Json(*name) : Json(v);
}

}  // namespace

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

void compile_host(const Index& ix, nft::Table& t) {
  compile_input(ix, t);
  compile_output(ix, t);
}

}  // namespace vmgw::compile_detail
