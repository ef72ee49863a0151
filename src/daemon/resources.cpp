#include "daemon/resources.h"

#include <algorithm>

#include "libvirt/follow.h"
#include "model/validate_internal.h"

namespace vmgw::daemon {
namespace {

// A string field: absent -> nullopt (and an error if required); not a string -> error.
std::optional<std::string> string_field(const Json& body, const std::string& key, bool required,
                                        FieldErrors& errors) {
  if (!body.contains(key) || body[key].is_null()) {
    if (required) errors.emplace_back(key, "is required");
    return std::nullopt;
  }
  if (!body[key].is_string()) {
    errors.emplace_back(key, "must be a string");
    return std::nullopt;
  }
  return body[key].get<std::string>();
}

}  // namespace

bool known_fields_only(const Json& body, const std::vector<std::string_view>& known,
                       FieldErrors& errors) {
  bool ok = true;
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    errors.emplace_back(key, "unknown field '" + key + "'" + detail::did_you_mean(key, known));
    ok = false;
  }
  return ok;
}

std::string optional_string(const Json& body, const std::string& key, const std::string& fallback,
                            FieldErrors& errors) {
  if (!body.contains(key) || body[key].is_null()) return fallback;
  if (!body[key].is_string()) {
    errors.emplace_back(key, "must be a string");
    return fallback;
  }
  return body[key].get<std::string>();
}

namespace {

bool valid_ports(const PortRange& p) {
  return p.first >= 1 && p.last <= 65535 && p.first <= p.last;
}

}  // namespace

Json vm_json(const Vm& vm, const store::EipRecord* eip) {
  Json j = {{"name", vm.name},
            {"network", vm.network},
            {"mac", vm.mac ? vm.mac->str() : ""},
            {"ip", vm.ip ? vm.ip->str() : ""},
            {"port", vm.port},
            {"filters", bindings_json(vm.filters)},
            {"quarantine", nullptr},
            {"elastic_ip", nullptr}};
  if (vm.quarantine) {
    Json allow = Json::array();
    for (const auto& c : vm.quarantine->allow_from) allow.push_back(c.str());
    j["quarantine"] = {{"allow_from", allow}};
  }
  if (eip) j["elastic_ip"] = eip->address.str();
  // A VM a followed libvirt domain made: changed in libvirt, not through the API.
  if (libvirt::owned_by_libvirt(vm.owner)) j["libvirt_domain"] = libvirt::domain_of(vm.owner);
  return j;
}

std::optional<std::pair<std::string, std::string>> libvirt_refusal(const Vm& vm, bool following) {
  if (!following || !libvirt::owned_by_libvirt(vm.owner)) return std::nullopt;
  return std::pair<std::string, std::string>{
      "name", "vm '" + vm.name + "' follows libvirt domain " + libvirt::domain_of(vm.owner) +
                  ": change it in libvirt (the domain's interface or its vmgw metadata), not "
                  "through the API"};
}

Json eip_json(const store::EipRecord& e, const Config& topology) {
  Json j = {
      {"address", e.address.str()}, {"pool", e.pool}, {"vm", e.vm.empty() ? Json() : Json(e.vm)}};
  for (const auto& p : topology.eip_pools)
    if (p.name == e.pool) j["uplink"] = p.uplink;
  return j;
}

Json forward_json(const store::ForwardRecord& f) {
  return {{"public", f.public_address.str() + ":" + f.public_ports.str()},
          {"proto", std::string(to_string(f.proto))},
          {"to", f.vm + ":" + f.vm_ports.str()},
          {"vm", f.vm}};
}

Json network_json(const Network& n, size_t vm_count) {
  Json j = {{"name", n.name},
            {"bridge", n.bridge},
            {"subnet", n.subnet ? n.subnet->str() : ""},
            {"gateway", n.gateway ? n.gateway->str() : ""},
            {"dhcp", n.dhcp},
            {"masquerade", n.masquerade},
            {"vms", vm_count}};
  if (n.dhcp) j["lease_time"] = n.lease_time.value_or(kDefaultLeaseTime);
  if (n.range) j["range"] = n.range->first.str() + "-" + n.range->second.str();
  return j;
}

Json uplink_json(const Uplink& u) {
  return {{"name", u.name},
          {"device", u.device},
          {"address", u.address ? u.address->str() : ""},
          {"gateway", u.gateway ? Json(u.gateway->str()) : Json()}};
}

std::optional<std::pair<Ipv4, PortRange>> parse_public(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  auto addr = Ipv4::parse(text.substr(0, colon));
  auto ports = PortRange::parse(text.substr(colon + 1));
  if (!addr || !ports) return std::nullopt;
  return std::pair{*addr, *ports};
}

std::optional<std::pair<std::string, PortRange>> parse_target(const std::string& text) {
  auto colon = text.rfind(':');
  if (colon == std::string::npos) return std::nullopt;
  auto ports = PortRange::parse(text.substr(colon + 1));
  if (!ports) return std::nullopt;
  return std::pair{text.substr(0, colon), *ports};
}

namespace {

// A VM's MAC, address and port fields, shared by vm add and vm set.
std::optional<Mac> vm_mac_field(const Json& body, bool required, FieldErrors& errors) {
  auto mac = string_field(body, "mac", required, errors);
  if (!mac) return std::nullopt;
  auto m = Mac::parse(*mac);
  if (!m) {
    errors.emplace_back("mac", "'" + *mac + "' is not a MAC address (expected aa:bb:cc:dd:ee:ff)");
    return std::nullopt;
  }
  if (m->is_multicast() || m->is_zero()) {
    errors.emplace_back("mac",
                        "'" + *mac + "' is a multicast or all-zero MAC; a VM needs a unicast one");
    return std::nullopt;
  }
  return m;
}

std::optional<Ipv4> vm_ip_field(const Json& body, FieldErrors& errors) {
  auto ip = string_field(body, "ip", false, errors);
  if (!ip) return std::nullopt;
  auto a = Ipv4::parse(*ip);
  if (!a) errors.emplace_back("ip", "'" + *ip + "' is not an IPv4 address");
  return a;
}

std::optional<std::string> vm_port_field(const Json& body, FieldErrors& errors) {
  auto port = string_field(body, "port", false, errors);
  if (port && !port->empty() && !is_valid_device_name(*port))
    errors.emplace_back(
        "port",
        "'" + *port + "' is not a valid interface name: at most 15 characters of [A-Za-z0-9_.-]");
  return port;
}

}  // namespace

std::optional<VmInterfaceChange> parse_vm_change(const Json& body, FieldErrors& errors) {
  const size_t before = errors.size();
  known_fields_only(body, {"mac", "ip", "port"}, errors);
  VmInterfaceChange c{vm_mac_field(body, false, errors), vm_ip_field(body, errors),
                      vm_port_field(body, errors)};
  if (errors.size() != before) return std::nullopt;
  if (!c.mac && !c.ip && !c.port) {
    errors.emplace_back("body", "nothing to change: give mac, ip or port");
    return std::nullopt;
  }
  return c;
}

std::optional<VmRequest> parse_vm_request(const Json& body, FieldErrors& errors) {
  const size_t before = errors.size();
  known_fields_only(body, {"name", "network", "mac", "ip", "port", "filters", "eip"}, errors);
  VmRequest r;
  if (auto name = string_field(body, "name", true, errors)) {
    if (!is_valid_object_name(*name))
      errors.emplace_back("name",
                          "'" + *name + "' is not a valid name: 1 to 32 characters of [a-z0-9_-]");
    r.name = *name;
  }
  if (auto net = string_field(body, "network", true, errors)) r.network = *net;
  if (auto m = vm_mac_field(body, true, errors)) r.mac = *m;
  r.ip = vm_ip_field(body, errors);
  if (body.contains("filters")) {
    if (auto f = parse_filter_bindings(body["filters"], "filters", errors)) r.filters = *f;
  }
  if (auto port = vm_port_field(body, errors)) r.port = *port;
  if (body.contains("eip")) {
    // true: from the first pool; a pool's name: from that pool.
    const auto& e = body["eip"];
    if (e.is_boolean()) {
      if (e.get<bool>()) r.eip_pool = "";
    } else if (e.is_string() && !e.get<std::string>().empty()) {
      r.eip_pool = e.get<std::string>();
    } else {
      errors.emplace_back("eip", "expected true or a pool's name");
    }
  }
  if (errors.size() != before) return std::nullopt;
  return r;
}

Json bindings_json(const std::vector<VmFilter>& filters) {
  Json out = Json::array();
  for (const auto& f : filters) {
    Json params = Json::object();
    for (const auto& [name, value] : f.params) {
      if (!params.contains(name)) {
        params[name] = value;
      } else {
        if (!params[name].is_array()) params[name] = Json::array({params[name]});
        params[name].push_back(value);
      }
    }
    out.push_back({{"filter", f.filter}, {"params", params}});
  }
  return out;
}

std::optional<std::vector<store::FilterBindingRecord>> parse_filter_bindings(
    const Json& list, const std::string& field, FieldErrors& errors) {
  const size_t before = errors.size();
  std::vector<store::FilterBindingRecord> out;
  if (!list.is_array()) {
    errors.emplace_back(field, "must be a list of {\"filter\": NAME, \"params\": {...}}");
    return std::nullopt;
  }
  for (size_t i = 0; i < list.size(); ++i) {
    const std::string at = field + "[" + std::to_string(i) + "]";
    const Json& b = list[i];
    if (!b.is_object() || !b.contains("filter") || !b["filter"].is_string() ||
        b["filter"].get<std::string>().empty()) {
      errors.emplace_back(at + ".filter", "is required: the filter's name");
      continue;
    }
    FieldErrors unknown;
    if (!known_fields_only(b, {"filter", "params"}, unknown)) {
      for (auto& [k, why] : unknown) errors.emplace_back(at + "." + k, why);
      continue;
    }
    store::FilterBindingRecord rec{b["filter"].get<std::string>(), {}};
    if (b.contains("params")) {
      if (!b["params"].is_object()) {
        errors.emplace_back(at + ".params", "must be an object of NAME: value or [values]");
        continue;
      }
      for (const auto& [name, value] : b["params"].items()) {
        const std::string p = at + ".params." + name;
        std::vector<Json> values =
            value.is_array() ? value.get<std::vector<Json>>() : std::vector<Json>{value};
        for (const auto& v : values) {
          if (!v.is_string() && !v.is_number_unsigned()) {
            errors.emplace_back(p, "values must be strings or numbers");
            break;
          }
          rec.params.emplace_back(name, v.is_string() ? v.get<std::string>() : v.dump());
        }
      }
    }
    out.push_back(std::move(rec));
  }
  if (errors.size() != before) return std::nullopt;
  return out;
}

std::optional<store::ForwardRecord> parse_forward_request(const Json& body, FieldErrors& errors) {
  const size_t before = errors.size();
  known_fields_only(body, {"public", "proto", "to"}, errors);
  store::ForwardRecord f;
  if (auto pub = string_field(body, "public", true, errors)) {
    auto p = parse_public(*pub);
    if (!p) {
      errors.emplace_back("public", "'" + *pub + "' is not ADDRESS:PORT or ADDRESS:PORT-PORT");
    } else if (!valid_ports(p->second)) {
      errors.emplace_back("public", "ports must be 1-65535 with the first not above the last");
    } else {
      f.public_address = p->first;
      f.public_ports = p->second;
    }
  }
  if (auto proto = string_field(body, "proto", false, errors)) {
    auto p = parse_proto(*proto);
    if (!p)
      errors.emplace_back("proto", "'" + *proto + "' is not tcp or udp");
    else
      f.proto = *p;
  }
  if (auto to = string_field(body, "to", true, errors)) {
    auto t = parse_target(*to);
    if (!t) {
      errors.emplace_back("to", "'" + *to + "' is not VM:PORT or VM:PORT-PORT");
    } else if (!valid_ports(t->second)) {
      errors.emplace_back("to", "ports must be 1-65535 with the first not above the last");
    } else {
      f.vm = t->first;
      f.vm_ports = t->second;
      // "web:8000" with a public range means the VM range starts at 8000.
      if (f.vm_ports.first == f.vm_ports.last && f.public_ports.size() > 1)
        f.vm_ports.last = f.vm_ports.first + f.public_ports.size() - 1;
      if (f.vm_ports.size() != f.public_ports.size() && errors.size() == before)
        errors.emplace_back("to", "the public range has " + std::to_string(f.public_ports.size()) +
                                      " ports but the VM range has " +
                                      std::to_string(f.vm_ports.size()));
      if (f.vm_ports.last > 65535) errors.emplace_back("to", "the VM port range ends above 65535");
    }
  }
  if (errors.size() != before) return std::nullopt;
  return f;
}

}  // namespace vmgw::daemon
