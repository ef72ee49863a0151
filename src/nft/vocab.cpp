#include "nft/vocab.h"

namespace vmgw::nft {

Json payload(const std::string& protocol, const std::string& field) {
  return {{"payload", {{"protocol", protocol}, {"field", field}}}};
}
Json meta(const std::string& key) {
  return {{"meta", {{"key", key}}}};
}
Json ct(const std::string& key) {
  return {{"ct", {{"key", key}}}};
}
Json concat(std::vector<Json> parts) {
  return {{"concat", std::move(parts)}};
}
Json prefix(const Cidr& c) {
  return {{"prefix", {{"addr", c.network.str()}, {"len", c.prefix}}}};
}
Json range(Json from, Json to) {
  return {{"range", Json::array({std::move(from), std::move(to)})}};
}
Json anonymous_set(std::vector<Json> items) {
  return {{"set", std::move(items)}};
}
Json set_ref(const std::string& name) {
  return "@" + name;
}
Json port_value(const PortRange& p) {
  if (p.first == p.last) return p.first;
  return range(p.first, p.last);
}

Json bit_and(Json left, Json right) {
  return {{"&", Json::array({std::move(left), std::move(right)})}};
}
Json bit_or(Json left, Json right) {
  return {{"|", Json::array({std::move(left), std::move(right)})}};
}

Json match(Json left, Json right, const std::string& op) {
  return {{"match", {{"op", op}, {"left", std::move(left)}, {"right", std::move(right)}}}};
}
Json counter() {
  return {{"counter", nullptr}};
}
Json accept() {
  return {{"accept", nullptr}};
}
Json drop() {
  return {{"drop", nullptr}};
}
Json jump(const std::string& chain) {
  return {{"jump", {{"target", chain}}}};
}
Json goto_chain(const std::string& chain) {
  return {{"goto", {{"target", chain}}}};
}
Json return_() {
  return {{"return", nullptr}};
}
Json mangle(Json key, Json value) {
  return {{"mangle", {{"key", std::move(key)}, {"value", std::move(value)}}}};
}
Json vmap(Json key, const std::string& map) {
  return {{"vmap", {{"key", std::move(key)}, {"data", set_ref(map)}}}};
}
Json dnat_from_maps(Json key, const std::string& addr_map, const std::string& port_map) {
  Json nat = {{"family", "ip"}, {"addr", {{"map", {{"key", key}, {"data", set_ref(addr_map)}}}}}};
  if (!port_map.empty()) nat["port"] = {{"map", {{"key", key}, {"data", set_ref(port_map)}}}};
  return {{"dnat", nat}};
}
Json snat_from_map(Json key, const std::string& addr_map) {
  return {{"snat",
           {{"family", "ip"},
            {"addr", {{"map", {{"key", std::move(key)}, {"data", set_ref(addr_map)}}}}}}}};
}
Json masquerade() {
  return {{"masquerade", nullptr}};
}
Json log(const std::string& prefix) {
  return {{"log", {{"prefix", prefix}}}};
}

Json element_ip(Ipv4 a) {
  return a.str();
}
Json element_verdict_jump(const std::string& chain) {
  return jump(chain);
}
Json element_verdict_goto(const std::string& chain) {
  return goto_chain(chain);
}

}  // namespace vmgw::nft
