// REST routes for per-VM filters: /v1/filters (define, list, dumpxml, undefine), a VM's filter
// bindings, quarantine and counters, /v1/trace and /v1/log (docs/api.md).
#include "daemon/filter_routes.h"

#include "daemon/log.h"
#include "daemon/resources.h"
#include "daemon/routes.h"
#include "filter/builtins.h"
#include "filter/serialize.h"

namespace vmgw::daemon {
namespace {

using api::Request;
using api::Response;

Json filter_summary(const filter::Filter& f, const Gateway& gw) {
  size_t rules = 0, refs = 0;
  for (const auto& e : f.entries) (std::holds_alternative<filter::Rule>(e) ? rules : refs)++;
  return {{"name", f.name},
          {"chain", f.effective_chain()},
          {"priority", f.effective_priority()},
          {"uuid", f.uuid ? Json(*f.uuid) : Json()},
          {"builtin", filter::is_builtin(f.name)},
          // The operator's filter stands for the built-in of its name (docs/filters.md).
          {"replaces_builtin", filter::is_builtin(f.name) && !filter::is_shipped_builtin(f)},
          {"rules", rules},
          {"references", refs},
          {"used_by", gw.vms_using(f.name)}};
}

// POST and DELETE /v1/filters: what the change did (docs/api.md).
Json defined_json(const DefinedFilter& d) {
  Json j{{"name", d.name},
         {"replaced", d.replaced},
         {"outcome", std::string(to_string(d.outcome))},
         {"vms_updated", d.vms_updated},
         {"flows_cut", d.flows_cut}};
  if (!d.builtin_difference.empty()) j["differs_from_builtin"] = d.builtin_difference;
  return j;
}

std::optional<uint64_t> number_field(const Json& body, const char* key, uint64_t max,
                                     FieldErrors& errors) {
  if (!body.contains(key) || body[key].is_null()) return std::nullopt;
  if (!body[key].is_number_unsigned() || body[key].get<uint64_t>() > max) {
    errors.emplace_back(key, "must be a number from 0 to " + std::to_string(max));
    return std::nullopt;
  }
  return body[key].get<uint64_t>();
}

std::optional<filter::Packet> parse_trace(const Json& body, FieldErrors& errors) {
  const size_t before = errors.size();
  filter::Packet p;
  std::string dir = optional_string(body, "direction", "out", errors);
  if (dir == "out") {
    p.direction = filter::Direction::out;
  } else if (dir == "in") {
    p.direction = filter::Direction::in;
  } else {
    errors.emplace_back("direction", "must be out (sent by the VM) or in (sent to the VM)");
  }
  static const std::map<std::string, uint8_t> kProtos = {
      {"tcp", 6},       {"udp", 17}, {"icmp", 1}, {"sctp", 132},
      {"udplite", 136}, {"igmp", 2}, {"esp", 50}, {"ah", 51}};
  std::string proto = optional_string(body, "proto", "tcp", errors);
  if (proto == "arp") {
    p.ether_type = 0x0806;
  } else if (auto it = kProtos.find(proto); it != kProtos.end()) {
    p.ip_proto = it->second;
  } else {
    errors.emplace_back("proto", "'" + proto +
                                     "' is not one of tcp, udp, icmp, sctp, udplite, "
                                     "igmp, esp, ah, arp");
  }
  for (const char* key : {"src", "dst"}) {
    if (!body.contains(key)) continue;
    std::string v = body[key].is_string() ? body[key].get<std::string>() : "";
    if (!Ipv4::parse(v)) {
      errors.emplace_back(key, "'" + v + "' is not an IPv4 address");
      continue;
    }
    (std::string(key) == "src" ? p.src_ip : p.dst_ip) = v;
  }
  if (auto v = number_field(body, "sport", 65535, errors)) p.sport = static_cast<uint16_t>(*v);
  if (auto v = number_field(body, "dport", 65535, errors)) p.dport = static_cast<uint16_t>(*v);
  if (auto v = number_field(body, "icmp_type", 255, errors)) p.icmp_type = static_cast<uint8_t>(*v);
  if (auto v = number_field(body, "icmp_code", 255, errors)) p.icmp_code = static_cast<uint8_t>(*v);
  if (auto v = number_field(body, "dscp", 63, errors)) p.dscp = static_cast<uint8_t>(*v);
  std::string state = optional_string(body, "state", "new", errors);
  if (state == "new") {
    p.state = filter::Packet::State::new_;
  } else if (state == "established") {
    p.state = filter::Packet::State::established;
  } else if (state == "related") {
    p.state = filter::Packet::State::related;
  } else {
    errors.emplace_back("state", "must be new, established or related");
  }
  for (const char* key : {"src_mac", "dst_mac"}) {
    if (!body.contains(key)) continue;
    auto m = Mac::parse(body[key].is_string() ? body[key].get<std::string>() : "");
    if (!m) errors.emplace_back(key, "is not a MAC address");
    (std::string(key) == "src_mac" ? p.src_mac : p.dst_mac) = m;
  }
  if (errors.size() != before) return std::nullopt;
  return p;
}

void add_filter_definition_routes(api::Router& r, Gateway& gw) {
  r.add("GET", "/v1/filters", [&gw](const Request&, const api::Params&) {
    Json list = Json::array();
    for (const auto& name : gw.filters().names())
      list.push_back(filter_summary(*gw.filters().lookup(name), gw));
    return api::json_response(200, list);
  });
  r.add("GET", "/v1/filters/{name}", [&gw](const Request&, const api::Params& p) {
    const filter::Filter* f = gw.filters().lookup(p.at("name"));
    if (!f) return api::error_response(404, "name", "no filter '" + p.at("name") + "'");
    Json j = filter_summary(*f, gw);
    j["xml"] = filter::filter_to_xml(*f);
    return api::json_response(200, j);
  });
  // {"xml": "<filter ...>...</filter>"}: the document exactly as the operator wrote it.
  r.add("POST", "/v1/filters", [&gw](const Request& req, const api::Params&) {
    Response err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    if (FieldErrors e; !known_fields_only(*body, {"xml"}, e)) return api::error_response(400, e);
    if (!body->contains("xml") || !(*body)["xml"].is_string())
      return api::error_response(400, "xml", "is required: the filter's XML document");
    return guarded([&] {
      auto d = gw.define_filter((*body)["xml"].get<std::string>());
      return api::json_response(d.replaced ? 200 : 201, defined_json(d));
    });
  });
  r.add("DELETE", "/v1/filters/{name}", [&gw](const Request&, const api::Params& p) {
    return guarded([&] {
      auto d = gw.undefine_filter(p.at("name"));
      Json j = defined_json(d);
      j["undefined"] = d.name;
      return api::json_response(200, j);
    });
  });
}

void add_vm_filter_routes(api::Router& r, Gateway& gw) {
  r.add("PUT", "/v1/vms/{name}/filters", [&gw](const Request& req, const api::Params& p) {
    Response err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    FieldErrors errors;
    if (!known_fields_only(*body, {"filters"}, errors)) return api::error_response(400, errors);
    auto bindings = parse_filter_bindings(
        body->contains("filters") ? (*body)["filters"] : Json::array(), "filters", errors);
    if (!bindings) return api::error_response(400, errors);
    if (const Vm* v = gw.find_vm(p.at("name")))
      if (auto why = libvirt_refusal(*v, gw.following_libvirt()))
        return api::error_response(409, why->first, why->second);
    return guarded([&] {
      gw.set_vm_filters(p.at("name"), *bindings);
      if (const Vm* v = gw.find_vm(p.at("name")))
        return api::json_response(200, vm_json(*v, gw.eip_of(v->name)));
      return api::json_response(200, Json::object());
    });
  });
  r.add("POST", "/v1/vms/{name}/quarantine", [&gw](const Request& req, const api::Params& p) {
    Response err;
    Json body = Json::object();
    if (!req.body.empty()) {
      auto b = api::parse_json_body(req, err);
      if (!b) return err;
      body = *b;
    }
    std::vector<Cidr> allow;
    FieldErrors errors;
    if (!known_fields_only(body, {"allow_from"}, errors)) return api::error_response(400, errors);
    const Json none = Json::array();
    const Json& list = body.contains("allow_from") ? body["allow_from"] : none;
    if (!list.is_array()) return api::error_response(400, "allow_from", "must be a list");
    for (const auto& c : list) {
      auto parsed = Cidr::parse(c.is_string() ? c.get<std::string>() : "");
      if (!parsed && c.is_string()) {
        if (auto a = Ipv4::parse(c.get<std::string>())) parsed = Cidr{*a, 32};
      }
      if (!parsed) {
        errors.emplace_back("allow_from", c.dump() + " is not an address or CIDR");
      } else if (parsed->prefix == 0) {
        errors.emplace_back("allow_from", "0.0.0.0/0 would allow everything");
      } else {
        allow.push_back(*parsed);
      }
    }
    if (!errors.empty()) return api::error_response(400, errors);
    return guarded([&] {
      size_t cut = gw.quarantine(p.at("name"), allow);
      std::string from;
      for (const auto& c : allow) from += " " + c.str();
      log_info("quarantined vm " + p.at("name") + " (management:" +
               (from.empty() ? " none" : from) + "); " + std::to_string(cut) + " flows cut");
      return api::json_response(200, Json{{"quarantined", p.at("name")}, {"flows_cut", cut}});
    });
  });
  r.add("DELETE", "/v1/vms/{name}/quarantine", [&gw](const Request&, const api::Params& p) {
    return guarded([&] {
      gw.unquarantine(p.at("name"));
      log_info("released vm " + p.at("name") + " from quarantine");
      return api::json_response(200, Json{{"unquarantined", p.at("name")}});
    });
  });
  r.add("GET", "/v1/vms/{name}/filter-stats", [&gw](const Request&, const api::Params& p) {
    return guarded([&] {
      Json list = Json::array();
      for (const auto& s : gw.filter_stats(p.at("name")))
        list.push_back({{"layer", s.layer},
                        {"direction", s.direction},
                        {"chain", s.chain},
                        {"rule", s.rule},
                        {"packets", s.packets},
                        {"bytes", s.bytes},
                        {"shared_by", s.shared_by}});
      return api::json_response(200, list);
    });
  });
}

void add_visibility_routes(api::Router& r, Gateway& gw, LogBook& log, const DaemonInfo* info) {
  r.add("POST", "/v1/trace", [&gw](const Request& req, const api::Params&) {
    Response err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    FieldErrors errors;
    if (!known_fields_only(*body,
                           {"vm", "direction", "proto", "src", "dst", "sport", "dport", "icmp_type",
                            "icmp_code", "dscp", "state", "src_mac", "dst_mac"},
                           errors))
      return api::error_response(400, errors);
    std::string vm = optional_string(*body, "vm", "", errors);
    if (vm.empty()) errors.emplace_back("vm", "is required");
    auto packet = parse_trace(*body, errors);
    if (!errors.empty()) return api::error_response(400, errors);
    return guarded([&] {
      auto t = gw.trace(vm, *packet);
      return api::json_response(
          200, Json{{"verdict", t.verdict}, {"decided_by", t.decided_by}, {"steps", t.steps}});
    });
  });
  r.add("GET", "/v1/log", [&log, info](const Request& req, const api::Params&) {
    auto q = [&](const char* k) { return req.query.count(k) ? req.query.at(k) : std::string(); };
    std::string vm = q("vm");
    uint64_t after = 0;
    size_t limit = 200;
    try {
      if (!q("after").empty()) after = std::stoull(q("after"));
      if (!q("limit").empty()) limit = std::stoul(q("limit"));
    } catch (const std::exception&) {
      return api::error_response(400, "after", "after and limit must be numbers");
    }
    auto entries = q("after").empty() ? log.latest(vm, limit) : log.since(after, vm, limit);
    Json list = Json::array();
    for (const auto& e : entries) list.push_back(to_json(e));
    Json body{{"entries", list}, {"last_seq", log.last_seq()}, {"dropped", log.dropped()}};
    // What the kernel did not log (over host.drop_log), so that a quiet log is not mistaken
    // for a quiet network.
    if (info && info->drop_log)
      if (auto d = info->drop_log(); d.suppressed) body["suppressed"] = *d.suppressed;
    return api::json_response(200, body);
  });
}

}  // namespace

void add_filter_routes(api::Router& router, Gateway& gw, LogBook& log, const DaemonInfo* info) {
  add_filter_definition_routes(router, gw);
  add_vm_filter_routes(router, gw);
  add_visibility_routes(router, gw, log, info);
}

}  // namespace vmgw::daemon
