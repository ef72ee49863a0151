// YAML -> Config. The parser checks structure and syntax only: known keys, the right kind of node
// (map, list, single value) and values that parse as what they claim to be. Everything that
// relates one value to another (is the gateway inside the subnet, does the VM exist...) is the
// validator's job. Every problem is collected; parsing never stops at the first one.

#include "model/parse.h"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string_view>

#include "model/parse_host.h"
#include "model/parse_uplinks.h"
#include "model/validate_internal.h"
#include "model/yaml_reader.h"

namespace vmgw {

Location Origin::at(const std::string& field) const {
  if (auto it = fields.find(field); it != fields.end()) return it->second;
  if (auto it = fields.find(""); it != fields.end()) return it->second;
  return Location{};
}

namespace {

using detail::Keys;
using detail::kind_of;
using detail::quote;

// The configuration's objects, over the primitives of YamlReader.
class Parser : public detail::YamlReader {
 public:
  using YamlReader::YamlReader;

  void uplink(const YAML::Node& n, const std::string& path, Uplink& u) {
    detail::parse_uplink(*this, n, path, u);
  }

  void dscp_rule(const YAML::Node& n, const std::string& path, DscpRule& d) {
    detail::parse_dscp_rule(*this, n, path, d);
  }

  void network(const YAML::Node& n, const std::string& path, Network& net) {
    fields(n, path,
           {"name", "bridge", "subnet", "gateway", "dhcp", "lease_time", "range", "masquerade",
            "dns_servers", "uplinks", "mode", "failback", "helpers", "icmp_out", "icmp_in"},
           net.origin, [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (detail::parse_network_routing(*this, key, v, p, net)) return;
             if (key == "name") string(v, p, net.name);
             if (key == "bridge") string(v, p, net.bridge);
             if (key == "subnet") net.subnet = cidr(v, p);
             if (key == "gateway") net.gateway = ipv4(v, p);
             if (key == "dhcp") boolean(v, p, net.dhcp);
             if (key == "lease_time")
               net.lease_time = number(v, p, "a lease time in seconds", kMinLeaseTime,
                                       kMaxLeaseTime, "2 minutes, dnsmasq's least");
             if (key == "range") net.range = address_range(v, p);
             if (key == "helpers") net.helpers = detail::parse_helpers(*this, v, p);
             if (key == "icmp_out") net.icmp_out = detail::parse_icmp_list(*this, v, p);
             if (key == "icmp_in") net.icmp_in = detail::parse_icmp_list(*this, v, p);
             if (key == "masquerade") {
               items(v, p, [&](const YAML::Node& item, const std::string& ip, size_t i) {
                 net.origin.fields["masquerade[" + std::to_string(i) + "]"] = loc(item);
                 std::string name;
                 string(item, ip, name);
                 net.masquerade.push_back(name);
               });
             }
             if (key == "dns_servers") {
               items(v, p, [&](const YAML::Node& item, const std::string& ip, size_t i) {
                 net.origin.fields["dns_servers[" + std::to_string(i) + "]"] = loc(item);
                 if (auto a = ipv4(item, ip)) net.dns_servers.push_back(*a);
               });
             }
           });
  }

  void vm(const YAML::Node& n, const std::string& path, Vm& v) {
    fields(n, path, {"name", "network", "mac", "ip", "port", "filters", "quarantine"}, v.origin,
           [&](const std::string& key, const YAML::Node& val, const std::string& p) {
             if (key == "name") string(val, p, v.name);
             if (key == "network") string(val, p, v.network);
             if (key == "mac") v.mac = mac(val, p);
             if (key == "ip") v.ip = ipv4(val, p);
             if (key == "port") string(val, p, v.port);
             if (key == "filters") list_of(val, p, v.filters, &Parser::vm_filter);
             if (key == "quarantine") quarantine(val, p, v);
           });
  }

  // - filter: clean-traffic
  //   params: {IP: 10.0.0.5}          a list value (IP: [a, b]) makes a list variable
  void vm_filter(const YAML::Node& n, const std::string& path, VmFilter& f) {
    fields(n, path, {"filter", "params"}, f.origin,
           [&](const std::string& key, const YAML::Node& val, const std::string& p) {
             if (key == "filter") string(val, p, f.filter);
             if (key == "params") params(val, p, f.params);
           });
  }

  void params(const YAML::Node& n, const std::string& path,
              std::vector<std::pair<std::string, std::string>>& out) {
    if (n.IsNull()) return;
    if (!n.IsMap()) {
      error(loc(n), path, "expected a map of NAME: value, got " + kind_of(n));
      return;
    }
    for (auto it = n.begin(); it != n.end(); ++it) {
      const YAML::Node key = it->first;
      const YAML::Node value = it->second;
      std::string name = key.IsScalar() ? key.Scalar() : "";
      std::string p = path + "." + name;
      if (value.IsSequence()) {
        items(value, p, [&](const YAML::Node& item, const std::string& ip, size_t) {
          if (auto s = scalar(item, ip, "a value")) out.emplace_back(name, *s);
        });
      } else if (auto s = scalar(value, p, "a value or a list of values")) {
        out.emplace_back(name, *s);
      }
    }
  }

  void quarantine(const YAML::Node& n, const std::string& path, Vm& v) {
    Quarantine q;
    Origin o;
    if (!n.IsNull()) {
      fields(n, path, {"allow_from"}, o,
             [&](const std::string&, const YAML::Node& val, const std::string& p) {
               items(val, p, [&](const YAML::Node& item, const std::string& ip, size_t) {
                 if (auto c = cidr(item, ip)) q.allow_from.push_back(*c);
               });
             });
    }
    v.quarantine = std::move(q);
  }

  // "ADDR:PORT" / "ADDR:FIRST-LAST" (public) or "VM:PORT" / "VM:FIRST-LAST" (to): splits at the
  // last ':'; reports a missing port.
  std::optional<std::pair<std::string, std::string>> endpoint(const YAML::Node& n,
                                                              const std::string& path,
                                                              std::string_view form) {
    auto s = scalar(n, path, form);
    if (!s) return std::nullopt;
    auto colon = s->rfind(':');
    if (colon == std::string::npos || colon + 1 == s->size()) {
      error(loc(n), path, quote(*s) + " has no port (expected " + std::string(form) + ")");
      return std::nullopt;
    }
    return std::pair{s->substr(0, colon), s->substr(colon + 1)};
  }

  void port_forward(const YAML::Node& n, const std::string& path, PortForward& f) {
    std::optional<PortRange> to_ports;
    fields(n, path, {"public", "proto", "to"}, f.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "public") {
               if (auto e = endpoint(v, p, "ADDR:PORT or ADDR:FIRST-LAST")) {
                 f.public_address = ipv4_text(e->first, loc(v), p);
                 f.public_ports = ports_text(e->second, loc(v), p);
               }
             }
             if (key == "proto") {
               if (auto pr = proto(v, p)) f.proto = *pr;
             }
             if (key == "to") {
               if (auto e = endpoint(v, p, "VM:PORT or VM:FIRST-LAST")) {
                 f.vm = e->first;
                 to_ports = ports_text(e->second, loc(v), p);
               }
             }
           });
    // "web:8000" with a public range 8000-8010 means the VM range starts at 8000.
    if (to_ports && f.public_ports && to_ports->first == to_ports->last &&
        f.public_ports->last > f.public_ports->first) {
      to_ports->last = to_ports->first + (f.public_ports->last - f.public_ports->first);
    }
    f.vm_ports = to_ports;
  }

  void pool(const YAML::Node& n, const std::string& path, ElasticIpPool& pl) {
    bool given = false;  // cidr or range already seen
    fields(n, path, {"name", "uplink", "cidr", "range"}, pl.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "name") string(v, p, pl.name);
             if (key == "uplink") string(v, p, pl.uplink);
             if (key != "cidr" && key != "range") return;
             if (given) {
               error(loc(v), p, "give either 'cidr' or 'range', not both");
               return;
             }
             given = true;
             if (key == "cidr") {
               if (auto c = cidr(v, p)) {
                 pl.first = c->first();
                 pl.last = c->last();
               }
               return;
             }
             if (auto r = address_range(v, p)) {
               pl.first = r->first;
               pl.last = r->second;
             }
           });
  }

  void binding(const YAML::Node& n, const std::string& path, ElasticIpBinding& b) {
    fields(n, path, {"address", "vm", "pool"}, b.origin,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "address") b.address = ipv4(v, p);
             if (key == "vm") string(v, p, b.vm);
             if (key == "pool") string(v, p, b.pool);
           });
  }

  void host_service(const YAML::Node& n, const std::string& path, HostService& s) {
    detail::parse_host_service(*this, n, path, s);
  }

  template <typename T, typename F>
  void list_of(const YAML::Node& v, const std::string& path, std::vector<T>& out, F parse_one) {
    items(v, path, [&](const YAML::Node& item, const std::string& p, size_t) {
      T obj;
      (this->*parse_one)(item, p, obj);
      out.push_back(std::move(obj));
    });
  }

  void document(const YAML::Node& root, Config& c) {
    if (root.IsNull()) return;  // an empty file is an empty configuration
    Origin top;
    fields(root, "",
           {"uplinks", "networks", "vms", "port_forwards", "elastic_ips", "host", "dscp", "filters",
            "lease_events", "api", "balance_by", "libvirt", "status"},
           top, [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "filters") {
               items(v, p, [&](const YAML::Node& item, const std::string& ip, size_t) {
                 if (auto s = scalar(item, ip, "the path of an nwfilter XML file"))
                   c.filter_files.push_back(*s);
               });
             }
             if (key == "uplinks") list_of(v, p, c.uplinks, &Parser::uplink);
             if (key == "networks") list_of(v, p, c.networks, &Parser::network);
             if (key == "vms") list_of(v, p, c.vms, &Parser::vm);
             if (key == "port_forwards") list_of(v, p, c.port_forwards, &Parser::port_forward);
             if (key == "elastic_ips") elastic_ips(v, p, c);
             if (key == "host") host(v, p, c.host);
             if (key == "dscp") list_of(v, p, c.dscp, &Parser::dscp_rule);
             if (key == "lease_events") lease_events(v, p, c.lease_events);
             if (key == "api") api(v, p, c.api);
             if (key == "balance_by") detail::parse_balance_by(*this, v, p, c.balance_by);
             if (key == "libvirt") libvirt(v, p, c.libvirt.emplace());
             if (key == "status") status(v, p, c.status_listen);
           });
  }

  // The status page's TCP address (docs/status-page.md): "ADDRESS:PORT", or a bare PORT for
  // the loopback address. No listen key, or no section: no TCP listener.
  void status(const YAML::Node& n, const std::string& path, std::optional<StatusPageListen>& out) {
    if (n.IsNull()) return;
    Origin o;
    fields(n, path, {"listen"}, o,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key != "listen") return;
             auto s = scalar(v, p, "ADDRESS:PORT or PORT");
             if (!s) return;
             StatusPageListen l;
             l.origin = o;
             auto colon = s->rfind(':');
             std::string port_text = colon == std::string::npos ? *s : s->substr(colon + 1);
             if (colon != std::string::npos) {
               auto a = Ipv4::parse(s->substr(0, colon));
               if (!a) {
                 error(loc(v), p, quote(*s) + " is not ADDRESS:PORT (an IPv4 address) or PORT");
                 return;
               }
               l.address = *a;
             }
             auto port = PortRange::parse(port_text);
             if (!port || port->first != port->last || port->first < 1 || port->first > 65535) {
               error(loc(v), p, quote(*s) + " has no port from 1 to 65535 (ADDRESS:PORT or PORT)");
               return;
             }
             l.port = static_cast<uint16_t>(port->first);
             out = l;
           });
  }

  void libvirt(const YAML::Node& n, const std::string& path, LibvirtFollow& l) {
    if (!fields(n, path, {"uri", "networks"}, l.origin,
                [&](const std::string& key, const YAML::Node& v, const std::string& p) {
                  if (key == "uri") string(v, p, l.uri);
                  if (key == "networks")
                    items(v, p, [&](const YAML::Node& item, const std::string& ip, size_t) {
                      if (auto s = scalar(item, ip, "a network name")) l.networks.push_back(*s);
                    });
                }))
      return;
    if (!l.origin.fields.contains("uri"))
      error(loc(n), path + ".uri", "required: libvirt's connection URI, e.g. qemu:///system");
  }

  void lease_events(const YAML::Node& n, const std::string& path, LeaseEventRetention& r) {
    if (n.IsNull()) return;
    Origin o;
    fields(n, path, {"keep", "max_age_days"}, o,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "keep")
               if (auto k = number(v, p, "a number of events", 1, kMaxLeaseEventsKept)) r.keep = *k;
             if (key == "max_age_days")
               if (auto d = number(v, p, "a number of days", 1, kMaxLeaseEventDays))
                 r.max_age_days = *d;
           });
  }

  void api(const YAML::Node& n, const std::string& path, ApiSettings& a) {
    if (n.IsNull()) return;
    Origin o;
    // A group name as groupadd takes it, or a numeric gid.
    auto group = [&](const YAML::Node& v, const std::string& p, std::string& out) {
      auto s = scalar(v, p, "a group name or gid");
      if (!s) return;
      bool ok = !s->empty() && s->size() <= 32 && (*s)[0] != '-';
      for (char ch : *s)
        ok = ok && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.');
      if (!ok) {
        error(loc(v), p, quote(*s) + " is not a group name or gid");
        return;
      }
      out = *s;
    };
    fields(n, path, {"group", "read_only_group", "connections_per_user"}, o,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "group") group(v, p, a.group);
             if (key == "read_only_group") group(v, p, a.read_only_group);
             if (key == "connections_per_user")
               if (auto n2 = number(v, p, "a number of connections", 1, kMaxConnectionsPerUser))
                 a.connections_per_user = *n2;
           });
  }

  void elastic_ips(const YAML::Node& n, const std::string& path, Config& c) {
    if (n.IsNull()) return;
    Origin o;
    fields(n, path, {"pools", "bindings"}, o,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             if (key == "pools") list_of(v, p, c.eip_pools, &Parser::pool);
             if (key == "bindings") list_of(v, p, c.eip_bindings, &Parser::binding);
           });
  }

  void host(const YAML::Node& n, const std::string& path, HostPolicy& h) {
    if (n.IsNull()) return;
    fields(
        n, path,
        {"allow", "allow_ping", "icmp", "output", "helpers", "flows_per_vm", "conntrack_max",
         "drop_log"},
        h.origin, [&](const std::string& key, const YAML::Node& v, const std::string& p) {
          if (key == "allow") list_of(v, p, h.allow, &Parser::host_service);
          if (key == "allow_ping") {
            boolean(v, p, h.allow_ping);
            h.allow_ping_given = true;
          }
          if (key == "icmp") h.icmp = detail::parse_icmp_list(*this, v, p);
          if (key == "output") detail::parse_host_output(*this, v, p, h.output);
          if (key == "helpers") h.helpers = detail::parse_helpers(*this, v, p);
          if (key == "flows_per_vm") {
            if (auto count = number(v, p, "a number of connections", 0, kMaxFlowsPerVm, "no limit"))
              h.flows_per_vm = *count;
          }
          if (key == "conntrack_max") {
            if (auto count =
                    number(v, p, "a number of connections", 0, kMaxConntrackMax, "the host's"))
              h.conntrack_max = *count;
          }
          if (key == "drop_log") drop_log(v, p, h.drop_log);
        });
  }

  void drop_log(const YAML::Node& n, const std::string& path, DropLogLimit& d) {
    if (n.IsNull()) return;
    Origin o;
    fields(n, path, {"rate", "burst", "per_source"}, o,
           [&](const std::string& key, const YAML::Node& v, const std::string& p) {
             auto packets = [&](uint32_t min, std::string_view note) {
               return number(v, p, "a number of packets per second", min, kMaxDropLogRate, note);
             };
             if (key == "rate")
               if (auto r = packets(1, "")) d.rate = *r;
             if (key == "burst")
               if (auto b = number(v, p, "a number of packets", 1, kMaxDropLogRate)) d.burst = *b;
             if (key == "per_source")
               if (auto r = packets(0, "no per-source bound")) d.per_source = *r;
           });
  }
};

}  // namespace

namespace {

// Records where documents start; everything else is ignored. Used to count documents with a
// bound: yaml-cpp 0.7's LoadAll never returns on some malformed inputs (found by fuzzing).
class DocumentCounter : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

ParseResult parse_config(const std::string& yaml_text, const std::string& file) {
  ParseResult result;
  result.config.source = file;
  Parser parser(file, result.errors);
  YAML::Node doc;
  DocumentCounter counter;
  try {
    doc = YAML::Load(yaml_text);
    std::istringstream in(yaml_text);
    YAML::Parser events(in);
    for (int i = 0; i < 2 && events.HandleNextDocument(counter); ++i) {
    }
  } catch (const YAML::DeepRecursion& e) {
    // yaml-cpp names this "bad file"; the operator needs to know what is wrong.
    Location where{file, 0, 0};
    if (e.mark.line >= 0) where = Location{file, e.mark.line + 1, e.mark.column + 1};
    parser.error(where, "",
                 "YAML nested too deeply (more than " + std::to_string(e.depth() - 1) +
                     " levels of lists and maps); vmgw's configuration needs fewer than 10");
    return result;
  } catch (const YAML::Exception& e) {
    Location where{file, 0, 0};
    if (e.mark.line >= 0) where = Location{file, e.mark.line + 1, e.mark.column + 1};
    parser.error(where, "", "YAML syntax error: " + e.msg);
    return result;
  }
  if (counter.starts.size() > 1) {
    const auto& m = counter.starts[1];
    parser.error(Location{file, m.line + 1, m.column + 1}, "",
                 "only one YAML document is allowed (found another one)");
  }
  if (doc.IsNull() && counter.starts.empty()) return result;  // an empty file
  parser.document(doc, result.config);
  return result;
}

ParseResult parse_config_file(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) errno = EISDIR;
  if (!in || errno == EISDIR) {
    int err = errno;
    ParseResult result;
    result.config.source = path;
    std::string why = err != 0 ? std::strerror(err) : "cannot open";
    result.errors.push_back(Diagnostic{Location{path, 0, 0}, "", "cannot read file: " + why});
    return result;
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    ParseResult result;
    result.config.source = path;
    result.errors.push_back(Diagnostic{Location{path, 0, 0}, "", "cannot read file"});
    return result;
  }
  return parse_config(text.str(), path);
}

}  // namespace vmgw
