// YAML -> the multi-uplink parts of a Config: an uplink with its weight, tier and health probe, a
// network's uplinks, mode and failback, and DSCP rules. Structure and syntax only, as parse.cpp.
#include "model/parse_uplinks.h"

#include <cmath>
#include <tuple>

#include "model/parse_host.h"

namespace vmgw::detail {
namespace {

// "100ms", "2s", "0.5s" -> milliseconds; nullopt (and an error) for anything else.
std::optional<uint32_t> duration_ms(YamlReader& r, const YAML::Node& v, const std::string& p) {
  auto s = r.scalar(v, p, "a duration (e.g. 100ms or 1s)");
  if (!s) return std::nullopt;
  std::string_view text = *s;
  double scale = 0;
  if (text.size() > 2 && text.substr(text.size() - 2) == "ms") {
    scale = 1;
    text.remove_suffix(2);
  } else if (text.size() > 1 && text.back() == 's') {
    scale = 1000;
    text.remove_suffix(1);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  bool number = ec == std::errc() && end == text.data() + text.size() && !text.empty() &&
                text[0] != '-' && text[0] != '+' && std::isfinite(value);
  if (scale == 0 || !number) {
    r.error(r.loc(v), p,
            quote(*s) + (number || scale != 0 ? " has no unit" : " is not a duration") +
                " (expected e.g. 100ms or 1s)");
    return std::nullopt;
  }
  double ms = value * scale;
  if (ms < kMinProbeIntervalMs || ms > kMaxProbeIntervalMs || std::floor(ms) != ms) {
    r.error(r.loc(v), p,
            quote(*s) + " is out of range (a whole number of milliseconds from " +
                std::to_string(kMinProbeIntervalMs) + "ms to " +
                std::to_string(kMaxProbeIntervalMs / 1000) + "s)");
    return std::nullopt;
  }
  return static_cast<uint32_t>(ms);
}

// "198.51.100.10" (ICMP echo) or "198.51.100.10:443" (TCP connect).
std::optional<ProbeTarget> probe_target(YamlReader& r, const YAML::Node& v, const std::string& p) {
  auto s = r.scalar(v, p, "an address (ICMP echo) or ADDR:PORT (TCP connect)");
  if (!s) return std::nullopt;
  auto colon = s->find(':');
  auto address = Ipv4::parse(s->substr(0, colon));
  if (!address) {
    r.error(r.loc(v), p,
            quote(*s) +
                " is not a probe target (expected an address for ICMP echo, or ADDR:PORT "
                "for a TCP connection)");
    return std::nullopt;
  }
  ProbeTarget t{*address, 0};
  if (colon == std::string::npos) return t;
  auto port = PortRange::parse(s->substr(colon + 1));
  if (!port || port->first != port->last || port->first < 1 || port->first > 65535) {
    r.error(r.loc(v), p, quote(*s) + ": the port must be a number from 1 to 65535");
    return std::nullopt;
  }
  t.tcp_port = static_cast<uint16_t>(port->first);
  return t;
}

void probe(YamlReader& r, const YAML::Node& n, const std::string& path, Uplink& u) {
  UplinkProbe& pr = u.probe;
  if (n.IsScalar()) {  // probe: false / probe: true
    r.boolean(n, path, pr.enabled);
    return;
  }
  Origin o;
  r.fields(n, path, {"targets", "interval", "down_after", "up_after"}, o,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "targets") {
               r.items(v, p, [&](const YAML::Node& item, const std::string& ip, size_t i) {
                 u.origin.fields["probe.targets[" + std::to_string(i) + "]"] = r.loc(item);
                 if (auto t = probe_target(r, item, ip)) pr.targets.push_back(*t);
               });
             }
             if (key == "interval") {
               if (auto ms = duration_ms(r, v, p)) pr.interval_ms = *ms;
             }
             if (key == "down_after") {
               if (auto k = r.number(v, p, "a number of probes", 1, kMaxProbeCount))
                 pr.down_after = *k;
             }
             if (key == "up_after") {
               if (auto k = r.number(v, p, "a number of probes", 1, kMaxProbeCount))
                 pr.up_after = *k;
             }
           });
  for (const auto& [field, where] : o.fields)
    if (!field.empty()) u.origin.fields["probe." + field] = where;
}

}  // namespace

void parse_uplink(YamlReader& r, const YAML::Node& n, const std::string& path, Uplink& u) {
  r.fields(n, path, {"name", "device", "address", "gateway", "weight", "tier", "probe"}, u.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "name") r.string(v, p, u.name);
             if (key == "device") r.string(v, p, u.device);
             if (key == "address") u.address = r.interface_address(v, p);
             if (key == "gateway") u.gateway = r.ipv4(v, p);
             if (key == "weight") {
               if (auto w = r.number(v, p, "a weight", 1, kMaxUplinkWeight)) u.weight = *w;
             }
             if (key == "tier") {
               if (auto t = r.number(v, p, "a tier", 1, kMaxUplinkTier)) u.tier = *t;
             }
             if (key == "probe") probe(r, v, p, u);
           });
}

bool parse_network_routing(YamlReader& r, const std::string& key, const YAML::Node& v,
                           const std::string& p, Network& net) {
  if (key == "uplinks") {
    r.items(v, p, [&](const YAML::Node& item, const std::string& ip, size_t i) {
      net.origin.fields["uplinks[" + std::to_string(i) + "]"] = r.loc(item);
      std::string name;
      r.string(item, ip, name);
      net.uplinks.push_back(name);
    });
    return true;
  }
  if (key == "mode") {
    if (auto i = r.choice(v, p, "a mode", {"balance", "failover"}))
      net.mode = *i == 0 ? UplinkMode::balance : UplinkMode::failover;
    return true;
  }
  if (key == "failback") {
    if (auto i = r.choice(v, p, "a failback policy", {"defer", "immediate"}))
      net.failback = *i == 0 ? Failback::defer : Failback::immediate;
    return true;
  }
  return false;
}

void parse_balance_by(YamlReader& r, const YAML::Node& v, const std::string& p, BalanceBy& out) {
  if (auto i = r.choice(v, p, "a way to balance", {"connection", "destination", "source"}))
    out = *i == 0 ? BalanceBy::connection : *i == 1 ? BalanceBy::destination : BalanceBy::source;
}

void parse_dscp_rule(YamlReader& r, const YAML::Node& n, const std::string& path, DscpRule& d) {
  std::optional<std::tuple<std::string, Location, std::string>> port;
  r.fields(n, path, {"vm", "network", "from", "proto", "port", "dscp"}, d.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "vm") r.string(v, p, d.vm);
             if (key == "network") r.string(v, p, d.network);
             if (key == "from") d.from = r.cidr(v, p);
             if (key == "proto") {
               if (auto pr = r.proto(v, p)) d.proto = *pr;
             }
             if (key == "port") {
               if (auto t = r.scalar(v, p, "a port, a range or a service name"))
                 port = std::make_tuple(*t, r.loc(v), p);
             }
             if (key == "dscp") {
               auto s = r.scalar(v, p, "a DSCP name or number");
               if (!s) return;
               d.dscp_text = *s;
               d.dscp = parse_dscp(*s);
               if (!d.dscp)
                 r.error(r.loc(v), p,
                         quote(*s) +
                             " is not a DSCP value (expected 0-63 or a name: ef, "
                             "af11-af43, cs0-cs7, le, va)");
             }
           });
  // After the whole rule: `proto` may come after `port`.
  if (port)
    d.ports =
        port_or_service(r, std::get<0>(*port), std::get<1>(*port), std::get<2>(*port), d.proto);
}

}  // namespace vmgw::detail
