// Connection-tracking helpers (`helpers:` of networks and of the host). A helper is attached to
// a new control connection on its standard port; the kernel then reads it, rewrites the
// addresses it carries where NAT applies (FTP's PORT and PASV replies), and expects the
// connections it announces, which the filter chains accept as `related`. Nothing else ever
// gets a helper, so `related` means "announced through a helper the operator chose" (or an
// ICMP error of an accepted flow). Chains and objects exist only when some helper is used.
#include <set>

#include "compile/compile.h"
#include "compile/parts.h"
#include "model/conntrack_helpers.h"

namespace vmgw::compile_detail {
namespace {

using nft::Json;

std::vector<Json> control_connection(const ConntrackHelperKind& h) {
  return {nft::match(nft::meta("l4proto"), protocol_number(h.proto)),
          nft::match(nft::payload("th", "dport"), h.port)};
}

nft::Rule attach(std::vector<Json> match, const ConntrackHelperKind& h, std::string comment) {
  for (auto& m : control_connection(h)) match.push_back(std::move(m));
  match.push_back({{"ct helper", std::string(h.name)}});
  return {std::move(match), std::move(comment)};
}

}  // namespace

void compile_helpers(const Index& ix, nft::Table& t) {
  std::set<std::string> used(ix.config.host.helpers.begin(), ix.config.host.helpers.end());
  for (const auto& [name, net] : ix.networks) used.insert(net->helpers.begin(), net->helpers.end());
  if (used.empty()) return;
  for (const auto& name : used) {
    const auto* h = find_conntrack_helper(name);
    t.helpers.push_back({name, name, std::string(to_string(h->proto)), "ip"});
  }
  // After DNAT (priority filter): a port forward's or elastic IP's connection already has its
  // VM's address, so "to the network" covers them whatever the public port.
  nft::Chain in{names::kHelpers, nft::Hook{"filter", "prerouting", 0, "accept"}, {}};
  for (const auto& [name, net] : ix.networks) {
    for (const auto& hn : net->helpers) {
      const auto& h = *find_conntrack_helper(hn);
      in.rules.push_back(attach({nft::match(nft::meta("iifname"), net->bridge)}, h,
                                name + ": " + hn + " opened by its hosts"));
      in.rules.push_back(
          attach({nft::match(nft::payload("ip", "daddr"), nft::prefix(*net->subnet))}, h,
                 name + ": " + hn + " to its hosts"));
    }
  }
  const Json to_the_host =
      nft::match(Json{{"fib", {{"result", "type"}, {"flags", Json::array({"daddr"})}}}}, "local");
  nft::Chain out{names::kHelpersOut, nft::Hook{"filter", "output", 0, "accept"}, {}};
  for (const auto& hn : ix.config.host.helpers) {
    const auto& h = *find_conntrack_helper(hn);
    in.rules.push_back(attach({to_the_host}, h, "host: " + hn + " to the host"));
    out.rules.push_back(attach({}, h, "host: " + hn + " opened by the host"));
  }
  if (!in.rules.empty()) t.chains.push_back(std::move(in));
  if (!out.rules.empty()) t.chains.push_back(std::move(out));
}

}  // namespace vmgw::compile_detail
