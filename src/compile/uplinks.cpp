// nftables for several uplinks. A flow is pinned to one uplink for its whole life: its uplink is
// recorded in its conntrack mark (bits routing::kMarkMask) when it starts, and every later packet
// of the flow, both ways, carries it in its packet mark, which the policy routing rules
// (routing.cpp) send to that uplink's table. So a flow never changes uplink mid-way (its NAT
// would break), whatever happens to the multipath groups that place new flows.
//   route_prerouting (mangle, before routing):
//     ct mark & mask vmap @flow_uplink     a pinned flow: restore its uplink into the packet mark
//     iifname vmap @uplink_by_device       a new flow from the internet (a port forward, an
//                                          elastic IP, the host): answer through the same uplink
//     ip daddr != @internal_subnets
//       ip saddr @eip_via_<uplink> goto    a new flow of a VM with an elastic IP: its uplink
//                                          (one rule per uplink; VMs are elements)
//   route_postrouting (mangle, after routing):
//     ct mark & mask == 0
//       oifname vmap @uplink_by_device     a new flow: pinned to the uplink it leaves through
// Each uplink has a chain uplink-<name> setting both marks (other bits kept), and a chain
// pinned-<name> setting the packet mark alone, for the packets of flows already pinned (every
// packet of an established flow crosses it: no conntrack write that changes nothing); the vmaps
// `goto` them, so nothing after the lookup runs. Uplinks are few: this is data in maps, and the
// rules are the same for any number of VMs and uplinks.
#include "compile/compile.h"
#include "compile/parts.h"
#include "compile/routing_ids.h"

namespace vmgw::compile_detail {
namespace {

using nft::Json;

Json marked(const char* kind, uint32_t mark) {
  Json key = kind == std::string("ct") ? nft::ct("mark") : nft::meta("mark");
  return nft::mangle(key, nft::bit_or(nft::bit_and(key, ~routing::kMarkMask), mark));
}

}  // namespace

void compile_uplinks(const Index& ix, nft::Table& t) {
  auto& ifs = set_named(t, names::kUplinkIfs);
  auto& snat = set_named(t, names::kUplinkSnat);
  auto& by_mark = set_named(t, names::kFlowUplink);
  auto& by_device = set_named(t, names::kUplinkByDevice);
  std::vector<std::string> names;
  for (const auto& [name, u] : ix.uplinks) names.push_back(name);
  auto slots = routing::assign_slots(names);
  for (const auto& [name, u] : ix.uplinks) {
    uint32_t mark = routing::mark_of(slots.at(name));
    std::string chain = names::uplink_chain(name);
    ifs.elements.push_back({u->device, nullptr});
    snat.elements.push_back({u->device, u->address->address.str()});
    by_mark.elements.push_back({mark, nft::element_verdict_goto(names::pinned_chain(name))});
    by_device.elements.push_back({u->device, nft::element_verdict_goto(chain)});
    t.chains.push_back(nft::Chain{chain,
                                  std::nullopt,
                                  {{{marked("ct", mark)}, "pin the flow to uplink " + name},
                                   {{marked("meta", mark)}, "route it through uplink " + name}}});
    t.chains.push_back(
        nft::Chain{names::pinned_chain(name),
                   std::nullopt,
                   {{{marked("meta", mark)}, "route a flow pinned to " + name + " through it"}}});
  }
  // eip_uplink's elements come with each elastic IP binding (contribute_binding, nat.cpp).

  const Json flow_uplink = nft::bit_and(nft::ct("mark"), routing::kMarkMask);
  auto& pre = chain_named(t, names::kRoutePrerouting);
  pre.rules.push_back(
      {{nft::vmap(flow_uplink, names::kFlowUplink)}, "flows keep the uplink they started on"});
  pre.rules.push_back({{nft::vmap(nft::meta("iifname"), names::kUplinkByDevice)},
                       "flows from the internet answer through the uplink they came in by"});
  for (const auto& [name, u] : ix.uplinks) {
    nft::Set s;
    s.name = names::eip_uplink_set(name);
    s.type = "ipv4_addr";
    s.comment = "VMs whose elastic IP is on uplink " + name;
    t.sets.push_back(std::move(s));
    pre.rules.push_back(
        {{nft::match(nft::payload("ip", "daddr"), nft::set_ref(names::kInternalSubnets), "!="),
          nft::match(nft::payload("ip", "saddr"), nft::set_ref(names::eip_uplink_set(name))),
          nft::goto_chain(names::uplink_chain(name))},
         "VMs with an elastic IP on " + name + " leave through it"});
  }
  auto& post = chain_named(t, names::kRoutePostrouting);
  post.rules.push_back(
      {{nft::match(flow_uplink, 0), nft::vmap(nft::meta("oifname"), names::kUplinkByDevice)},
       "a new flow is pinned to the uplink it leaves through"});
}

}  // namespace vmgw::compile_detail
