// A typed vocabulary for the nftables JSON that vmgw sends to the kernel (libnftables-json(5)).
// Every rule vmgw emits is built from these functions, so the JSON shapes live in one place and
// match what the kernel lists back (which the diff relies on).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/net.h"

namespace vmgw::nft {

using Json = nlohmann::json;

// --- expressions ---
Json payload(const std::string& protocol, const std::string& field);  // ip saddr, th dport
Json meta(const std::string& key);                                    // iifname, l4proto
Json ct(const std::string& key);                                      // state, status
Json concat(std::vector<Json> parts);
Json prefix(const Cidr& c);
Json range(Json from, Json to);
Json anonymous_set(std::vector<Json> items);
Json set_ref(const std::string& name);  // "@name"
Json port_value(const PortRange& p);    // 80 or {"range": [80, 90]}
Json bit_and(Json left, Json right);    // left & right
Json bit_or(Json left, Json right);     // left | right

// --- statements ---
Json match(Json left, Json right, const std::string& op = "==");
Json counter();
Json accept();
Json drop();
Json jump(const std::string& chain);
Json goto_chain(const std::string& chain);  // like jump, but the chain's end ends the caller too
Json return_();
// key = value: ct mark, meta mark, ip dscp ...
Json mangle(Json key, Json value);
Json vmap(Json key, const std::string& map);
// dnat/snat whose address (and optionally port) come from maps keyed by `key`.
Json dnat_from_maps(Json key, const std::string& addr_map, const std::string& port_map = "");
Json snat_from_map(Json key, const std::string& addr_map);
Json masquerade();
Json log(const std::string& prefix);

// --- element values as the kernel lists them ---
Json element_ip(Ipv4 a);
Json element_verdict_jump(const std::string& chain);
Json element_verdict_goto(const std::string& chain);

}  // namespace vmgw::nft
