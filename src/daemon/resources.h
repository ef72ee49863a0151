// The API's JSON shapes: objects out (records -> JSON) and requests in (JSON -> typed request,
// with every bad field reported as (field, reason)). Pure.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "daemon/gateway.h"

namespace vmgw::daemon {

using Json = nlohmann::json;
using FieldErrors = std::vector<std::pair<std::string, std::string>>;

// `eip`: the elastic IP bound to the VM, or nullptr.
Json vm_json(const Vm& vm, const store::EipRecord* eip);
// A VM a followed libvirt domain made is changed in libvirt while vmgwd follows it: the API's
// change of its interface, filters or existence is refused (409) with how to proceed; nullopt
// for another VM, or when vmgwd no longer follows libvirt (the way back: such VMs are then the
// API's).
std::optional<std::pair<std::string, std::string>> libvirt_refusal(const Vm& vm, bool following);
Json eip_json(const store::EipRecord& e, const Config& topology);
Json forward_json(const store::ForwardRecord& f);
Json network_json(const Network& n, size_t vm_count);
Json uplink_json(const Uplink& u);

// Appends "unknown field 'prot'; did you mean 'proto'?" for each key of `body` not in `known`:
// a misspelt optional field must not be silently ignored (a forward would become tcp). Returns
// true when every key is known.
bool known_fields_only(const Json& body, const std::vector<std::string_view>& known,
                       FieldErrors& errors);
// An optional string field: `fallback` when absent, an error when not a string.
std::string optional_string(const Json& body, const std::string& key, const std::string& fallback,
                            FieldErrors& errors);

// Parses a request body; appends to `errors` and returns nullopt when a field is wrong.
std::optional<VmRequest> parse_vm_request(const Json& body, FieldErrors& errors);
// PATCH /v1/vms/NAME: {"mac"?, "ip"?, "port"?}, at least one.
std::optional<VmInterfaceChange> parse_vm_change(const Json& body, FieldErrors& errors);
// [{"filter": "clean-traffic", "params": {"IP": "10.0.0.5", "PORTS": ["22", "80"]}}]
std::optional<std::vector<store::FilterBindingRecord>> parse_filter_bindings(
    const Json& list, const std::string& field, FieldErrors& errors);
Json bindings_json(const std::vector<VmFilter>& filters);
std::optional<store::ForwardRecord> parse_forward_request(const Json& body, FieldErrors& errors);

// "203.0.113.2:8080" or "203.0.113.2:8000-8010" -> address and ports.
std::optional<std::pair<Ipv4, PortRange>> parse_public(const std::string& text);
// "web:80" or "web:80-90" -> vm name and ports.
std::optional<std::pair<std::string, PortRange>> parse_target(const std::string& text);

}  // namespace vmgw::daemon
