// DSCP marking of traffic leaving through the uplinks (`dscp:` in the config), forwarded or the
// host's own. Each rule marks the packets its sources send with the rule's port as destination
// (they are the client) or source (they serve it), in file order, the first match deciding. The
// rules are the operator's few, so they are plain rules with a counter each (`vmgw show` shows how
// much each marked), not map data; a packet that leaves through no uplink meets none of them.
#include <algorithm>

#include "compile/compile.h"
#include "compile/parts.h"

namespace vmgw::compile_detail {
namespace {

using nft::Json;

Json source_of(const Index& ix, const DscpRule& d) {
  if (!d.vm.empty()) return ix.vms.at(d.vm)->ip->str();
  if (!d.network.empty()) return nft::prefix(*ix.networks.at(d.network)->subnet);
  return nft::prefix(*d.from);
}

std::string describe(const DscpRule& d) {
  std::string who = !d.vm.empty()        ? "vm " + d.vm
                    : !d.network.empty() ? "network " + d.network
                                         : d.from->str();
  std::string what = std::string(to_string(d.proto));
  if (d.ports) what += " " + d.ports->str();
  return d.origin.path + ": " + who + " " + what + " -> dscp " + d.dscp_text;
}

}  // namespace

void compile_dscp(const Index& ix, nft::Table& t) {
  // A rule by prefix (`from`) may name the host's own addresses: it marks what the host itself
  // sends too (its SSH replies), in an output chain made only then.
  bool host_too = std::any_of(ix.config.dscp.begin(), ix.config.dscp.end(),
                              [](const DscpRule& d) { return d.from.has_value(); });
  // The forward chain only when there are rules: an empty base chain still costs every
  // forwarded packet a call.
  if (!ix.config.dscp.empty())
    t.chains.push_back(
        nft::Chain{names::kDscpForward, nft::Hook{"filter", "forward", -5, "accept"}, {}});
  if (host_too)
    t.chains.push_back(
        nft::Chain{names::kDscpOutput, nft::Hook{"filter", "output", -5, "accept"}, {}});
  for (const DscpRule& d : ix.config.dscp) {
    std::vector<Json> common{
        nft::match(nft::meta("oifname"), nft::set_ref(names::kUplinkIfs)),
        nft::match(nft::payload("ip", "saddr"), source_of(ix, d)),
        nft::match(nft::meta("l4proto"), protocol_number(d.proto)),
    };
    auto rule = [&](const char* port_field, const std::string& comment) {
      std::vector<Json> expr = common;
      if (port_field != nullptr)
        expr.push_back(nft::match(nft::payload("th", port_field), nft::port_value(*d.ports)));
      expr.push_back(nft::counter());
      expr.push_back(nft::mangle(nft::payload("ip", "dscp"), *d.dscp));
      expr.push_back(nft::return_());
      if (d.from) chain_named(t, names::kDscpOutput).rules.push_back({expr, comment});
      chain_named(t, names::kDscpForward).rules.push_back({std::move(expr), comment});
    };
    if (!d.ports) {
      rule(nullptr, describe(d));
    } else {
      rule("dport", describe(d) + " (as client)");
      rule("sport", describe(d) + " (as server)");
    }
  }
}

}  // namespace vmgw::compile_detail
