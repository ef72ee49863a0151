#include "daemon/routes.h"

#include <algorithm>
#include <ctime>

#include "daemon/resources.h"
#include "model/lease_event.h"

namespace vmgw::daemon {
namespace {

using api::Request;
using api::Response;

Response bad_request(const FieldErrors& errors) {
  return api::error_response(400, errors);
}

std::optional<Ipv4> address_param(const std::string& text, Response& err) {
  auto a = Ipv4::parse(text);
  if (!a) err = api::error_response(400, "address", "'" + text + "' is not an IPv4 address");
  return a;
}

Json vms_json(const Gateway& gw) {
  // By name: vmgwd keeps its VMs in no order.
  std::vector<const Vm*> sorted;
  sorted.reserve(gw.vms().size());
  for (const auto& v : gw.vms()) sorted.push_back(&v);
  std::sort(sorted.begin(), sorted.end(),
            [](const Vm* a, const Vm* b) { return a->name < b->name; });
  Json list = Json::array();
  for (const Vm* v : sorted) list.push_back(vm_json(*v, gw.eip_of(v->name)));
  return list;
}

void add_vm_routes(api::Router& r, Gateway& gw) {
  r.add("GET", "/v1/vms", [&gw](const Request&, const api::Params&) {
    return api::json_response(200, vms_json(gw));
  });
  r.add("GET", "/v1/vms/{name}", [&gw](const Request&, const api::Params& p) {
    if (const Vm* v = gw.find_vm(p.at("name")))
      return api::json_response(200, vm_json(*v, gw.eip_of(v->name)));
    return api::error_response(404, "name", "no vm '" + p.at("name") + "'");
  });
  r.add("POST", "/v1/vms", [&gw](const Request& req, const api::Params&) {
    Response err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    FieldErrors errors;
    auto vm = parse_vm_request(*body, errors);
    if (!vm) return bad_request(errors);
    return guarded([&] {
      auto rec = gw.add_vm(*vm);
      if (const Vm* v = gw.find_vm(rec.name))
        return api::json_response(201, vm_json(*v, gw.eip_of(v->name)));
      return api::json_response(201, Json{{"name", rec.name}});
    });
  });
  r.add("PATCH", "/v1/vms/{name}", [&gw](const Request& req, const api::Params& p) {
    Response err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    FieldErrors errors;
    auto change = parse_vm_change(*body, errors);
    if (!change) return bad_request(errors);
    if (const Vm* v = gw.find_vm(p.at("name")))
      if (auto why = libvirt_refusal(*v, gw.following_libvirt()))
        return api::error_response(409, why->first, why->second);
    return guarded([&] {
      auto rec = gw.set_vm(p.at("name"), *change);
      if (const Vm* v = gw.find_vm(rec.name))
        return api::json_response(200, vm_json(*v, gw.eip_of(v->name)));
      return api::json_response(200, Json{{"name", rec.name}});
    });
  });
  r.add("DELETE", "/v1/vms/{name}", [&gw](const Request& req, const api::Params& p) {
    bool release = req.query.count("release") && req.query.at("release") == "true";
    if (const Vm* v = gw.find_vm(p.at("name")))
      if (auto why = libvirt_refusal(*v, gw.following_libvirt()))
        return api::error_response(409, why->first, why->second);
    return guarded([&] {
      auto removed = gw.remove_vm(p.at("name"), release);
      Json j = {{"vm", {{"name", removed.vm.name}, {"ip", removed.vm.ip.str()}}},
                {"unbound", Json::array()},
                {"released", Json::array()},
                {"forwards_removed", Json::array()}};
      for (const auto& e : removed.unbound)
        j[release ? "released" : "unbound"].push_back(e.address.str());
      for (const auto& f : removed.forwards)
        j["forwards_removed"].push_back(f.public_address.str() + ":" + f.public_ports.str() + "/" +
                                        std::string(to_string(f.proto)));
      return api::json_response(200, j);
    });
  });
}

void add_eip_routes(api::Router& r, Gateway& gw) {
  r.add("GET", "/v1/eips", [&gw](const Request&, const api::Params&) {
    Json list = Json::array();
    for (const auto& e : gw.state().eips) list.push_back(eip_json(e, gw.topology()));
    return api::json_response(200, list);
  });
  r.add("POST", "/v1/eips", [&gw](const Request& req, const api::Params&) {
    Response err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    FieldErrors errors;
    if (!known_fields_only(*body, {"pool", "address"}, errors)) return bad_request(errors);
    std::optional<std::string> pool;
    std::optional<Ipv4> address;
    if (body->contains("pool")) {
      if ((*body)["pool"].is_string())
        pool = (*body)["pool"].get<std::string>();
      else
        errors.emplace_back("pool", "must be a string");
    }
    if (body->contains("address")) {
      auto text =
          (*body)["address"].is_string() ? (*body)["address"].get<std::string>() : std::string();
      address = Ipv4::parse(text);
      if (!address) errors.emplace_back("address", "'" + text + "' is not an IPv4 address");
    }
    if (!errors.empty()) return bad_request(errors);
    return guarded([&] {
      return api::json_response(201, eip_json(gw.allocate_eip(pool, address), gw.topology()));
    });
  });
  r.add("POST", "/v1/eips/{address}/bind", [&gw](const Request& req, const api::Params& p) {
    Response err;
    auto address = address_param(p.at("address"), err);
    if (!address) return err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    if (FieldErrors e; !known_fields_only(*body, {"vm"}, e)) return bad_request(e);
    if (!body->contains("vm") || !(*body)["vm"].is_string())
      return api::error_response(400, "vm", "is required");
    return guarded([&] {
      return api::json_response(
          200, eip_json(gw.bind_eip(*address, (*body)["vm"].get<std::string>()), gw.topology()));
    });
  });
  r.add("POST", "/v1/eips/{address}/unbind", [&gw](const Request&, const api::Params& p) {
    Response err;
    auto address = address_param(p.at("address"), err);
    if (!address) return err;
    return guarded(
        [&] { return api::json_response(200, eip_json(gw.unbind_eip(*address), gw.topology())); });
  });
  r.add("DELETE", "/v1/eips/{address}", [&gw](const Request&, const api::Params& p) {
    Response err;
    auto address = address_param(p.at("address"), err);
    if (!address) return err;
    return guarded(
        [&] { return api::json_response(200, eip_json(gw.release_eip(*address), gw.topology())); });
  });
}

void add_forward_routes(api::Router& r, Gateway& gw) {
  r.add("GET", "/v1/forwards", [&gw](const Request&, const api::Params&) {
    Json list = Json::array();
    for (const auto& f : gw.state().forwards) list.push_back(forward_json(f));
    return api::json_response(200, list);
  });
  r.add("POST", "/v1/forwards", [&gw](const Request& req, const api::Params&) {
    Response err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    FieldErrors errors;
    auto f = parse_forward_request(*body, errors);
    if (!f) return bad_request(errors);
    return guarded([&] { return api::json_response(201, forward_json(gw.add_forward(*f))); });
  });
  r.add("DELETE", "/v1/forwards", [&gw](const Request& req, const api::Params&) {
    auto pub = req.query.count("public") ? req.query.at("public") : "";
    auto parsed = parse_public(pub);
    if (!parsed) return api::error_response(400, "public", "'" + pub + "' is not ADDRESS:PORT");
    auto proto = parse_proto(req.query.count("proto") ? req.query.at("proto") : "tcp");
    if (!proto) return api::error_response(400, "proto", "must be tcp or udp");
    return guarded([&] {
      return api::json_response(
          200, forward_json(gw.remove_forward(parsed->first, *proto, parsed->second.first)));
    });
  });
}

void add_info_routes(api::Router& r, Gateway& gw, DaemonInfo& info) {
  r.add("GET", "/v1/networks", [&gw](const Request&, const api::Params&) {
    Json list = Json::array();
    for (const auto& n : gw.topology().networks) {
      size_t count = std::count_if(gw.vms().begin(), gw.vms().end(),
                                   [&](const Vm& v) { return v.network == n.name; });
      list.push_back(network_json(n, count));
    }
    return api::json_response(200, list);
  });
  r.add("GET", "/v1/uplinks", [&gw, &info](const Request&, const api::Params&) {
    return guarded([&] {
      return api::json_response(
          200, uplinks_json(
                   gw, info.uplink_status ? info.uplink_status() : std::vector<UplinkStatus>{}));
    });
  });
  r.add("GET", "/v1/counters", [&gw](const Request&, const api::Params&) {
    return guarded([&] {
      Json list = Json::array();
      for (const auto& c : gw.rule_counters())
        list.push_back(
            {{"chain", c.chain}, {"rule", c.rule}, {"packets", c.packets}, {"bytes", c.bytes}});
      return api::json_response(200, list);
    });
  });
  r.add("GET", "/v1/status", [&gw, &info](const Request&, const api::Params&) {
    size_t bound = std::count_if(gw.state().eips.begin(), gw.state().eips.end(),
                                 [](const auto& e) { return !e.vm.empty(); });
    Json dhcp = Json::object();
    for (const auto& [net, state] : info.dhcp_state()) dhcp[net] = state;
    Json libvirt = nullptr;
    if (info.libvirt) {
      auto l = info.libvirt();
      libvirt = {{"uri", l.uri},
                 {"connected", l.connected},
                 {"error", l.error},
                 {"domains", l.domains},
                 {"refused", l.refused}};
    }
    return api::json_response(200, Json{{"version", info.version},
                                        {"pid", info.pid},
                                        {"config", info.config_path},
                                        {"generation", gw.state().generation},
                                        {"counts",
                                         {{"vms", gw.vms().size()},
                                          {"elastic_ips_allocated", gw.state().eips.size()},
                                          {"elastic_ips_bound", bound},
                                          {"port_forwards", gw.desired().port_forwards.size()},
                                          {"networks", gw.topology().networks.size()},
                                          {"uplinks", gw.topology().uplinks.size()}}},
                                        {"dhcp", dhcp},
                                        {"filter_path", gw.filter_path()},
                                        {"libvirt", libvirt},
                                        {"last_apply", gw.last_apply()}});
  });
  r.add("GET", "/metrics", [&gw, &info](const Request&, const api::Params&) {
    Response resp;
    resp.status = 200;
    resp.content_type = "text/plain; version=0.0.4";
    resp.body = metrics_text(gw, info);
    return resp;
  });
}

void add_lease_routes(api::Router& r, Gateway& gw, store::StateStore& store) {
  r.add("GET", "/v1/leases", [&gw, &store](const Request&, const api::Params&) {
    Json j = {{"reservations", Json::array()}, {"events", Json::array()}};
    for (const auto& d : gw.dhcp_servers())
      for (const auto& res : d.reservations)
        j["reservations"].push_back({{"network", d.network},
                                     {"mac", res.mac.str()},
                                     {"ip", res.ip.str()},
                                     {"name", res.name}});
    for (const auto& e : store.lease_events(1000))
      j["events"].push_back({{"time", e.time},
                             {"network", e.network},
                             {"action", e.action},
                             {"mac", e.mac},
                             {"ip", e.ip},
                             {"hostname", e.hostname}});
    return api::json_response(200, j);
  });
  r.add("POST", "/v1/leases/events", [&gw](const Request& req, const api::Params&) {
    Response err;
    auto body = api::parse_json_body(req, err);
    if (!body) return err;
    FieldErrors errors;
    known_fields_only(*body, {"time", "network", "action", "mac", "ip", "hostname"}, errors);
    auto text = [&](const char* key) { return optional_string(*body, key, "", errors); };
    store::LeaseEventRecord e{text("time"), text("network"), text("action"),
                              text("mac"),  text("ip"),      text("hostname")};
    if (!errors.empty()) return bad_request(errors);
    // Guests drive these (through dnsmasq): checked field by field before they are kept.
    for (auto& wrong : lease_event_errors(e, std::time(nullptr)))
      errors.push_back(std::move(wrong));
    if (errors.empty() && !gw.serves_dhcp(e.network))
      errors.emplace_back("network", "no network '" + e.network + "' with DHCP");
    if (!errors.empty()) return bad_request(errors);
    gw.record_lease_event(e);
    return api::json_response(201, Json{{"recorded", true}});
  });
}

}  // namespace

api::Response guarded(const std::function<api::Response()>& f) {
  try {
    return f();
  } catch (const ServiceError& e) {
    return api::error_response(e.status, e.errors);
  }
}

void add_routes(api::Router& router, Gateway& gw, DaemonInfo& info) {
  add_vm_routes(router, gw);
  add_eip_routes(router, gw);
  add_forward_routes(router, gw);
  add_info_routes(router, gw, info);
  add_lease_routes(router, gw, gw.store());
}

}  // namespace vmgw::daemon
