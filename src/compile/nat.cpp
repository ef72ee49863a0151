// NAT: port forwards and elastic IPs (DNAT in, SNAT out: map elements each forward and binding
// contributes), masquerade of VM and LAN subnets behind their uplinks, and hairpin NAT so a VM
// can reach a published service by its public address.
#include "compile/compile.h"
#include "compile/parts.h"

namespace vmgw::compile_detail {
namespace {

using nft::Json;

Json forward_key_expr() {
  return nft::concat(
      {nft::payload("ip", "daddr"), nft::meta("l4proto"), nft::payload("th", "dport")});
}

}  // namespace

void contribute_forward(const Index& ix, const PortForward& f, Contribution& c) {
  const Vm& vm = *ix.vms.at(f.vm);
  // A range is one element per port: nft maps cannot add an offset to a port range.
  for (uint32_t i = 0; i < f.public_ports->size(); ++i) {
    Json key =
        nft::concat({f.public_address->str(), protocol_number(f.proto), f.public_ports->first + i});
    c.elements.push_back({NftTable::inet, names::kForwardAddr, {key, vm.ip->str()}});
    c.elements.push_back({NftTable::inet, names::kForwardPort, {key, f.vm_ports->first + i}});
  }
  // A forward on an elastic IP that is not bound (or not yet): the host must hold the address
  // for the ISP's ARP to reach it, as for a bound one (the binding holds it too; LivePlan counts
  // an address two objects hold once).
  if (const Uplink* up = ix.pool_uplink(*f.public_address);
      up && !(up->address && up->address->address == *f.public_address))
    c.addresses.push_back({up->device, {*f.public_address, 32}});
}

void contribute_binding(const Index& ix, const ElasticIpBinding& b, Contribution& c) {
  const Vm& vm = *ix.vms.at(b.vm);
  const Uplink& up = ix.uplink_of_eip(*b.address);
  c.elements.push_back({NftTable::inet, names::kEipDnat, {b.address->str(), vm.ip->str()}});
  c.elements.push_back({NftTable::inet,
                        names::kEipSnat,
                        {nft::concat({vm.ip->str(), up.device}), b.address->str()}});
  // Its VM's flows leave through the elastic IP's uplink (uplinks.cpp).
  c.elements.push_back({NftTable::inet, names::eip_uplink_set(up.name), {vm.ip->str(), nullptr}});
  // The address itself, /32 on the uplink whose pool holds it.
  c.addresses.push_back({up.device, {*b.address, 32}});
}

namespace {

void add_masquerade_elements(const Index& ix, nft::Table& t) {
  auto& masq = set_named(t, names::kMasquerade);
  auto& hairpin = set_named(t, names::kHairpinSubnets);
  for (const auto& [name, net] : ix.networks) {
    hairpin.elements.push_back(
        {nft::concat({nft::prefix(*net->subnet), nft::prefix(*net->subnet)}), nullptr});
    for (const auto& uplink : net->masquerade) {
      masq.elements.push_back(
          {nft::concat({ix.uplinks.at(uplink)->device, nft::prefix(*net->subnet)}), nullptr});
    }
  }
}

}  // namespace

void compile_nat(const Index& ix, nft::Table& t) {
  add_masquerade_elements(ix, t);

  auto& pre = chain_named(t, names::kNatPrerouting);
  pre.rules.push_back(
      {{nft::dnat_from_maps(forward_key_expr(), names::kForwardAddr, names::kForwardPort)},
       "port forwards"});
  pre.rules.push_back({{nft::dnat_from_maps(nft::payload("ip", "daddr"), names::kEipDnat)},
                       "elastic IPs, inbound"});

  auto& post = chain_named(t, names::kNatPostrouting);
  // A client reaching a forward or elastic IP whose VM is in its own network: the reply would
  // go straight back over the link and be dropped by the client (it expects the public
  // address), so the gateway puts itself in the path. Client and VM in different networks:
  // the reply goes through the gateway anyway, and the VM sees the client's own address.
  // (The input interface is unknown in postrouting, hence the subnets, after DNAT.)
  post.rules.push_back(
      {{nft::match(nft::concat({nft::payload("ip", "saddr"), nft::payload("ip", "daddr")}),
                   nft::set_ref(names::kHairpinSubnets)),
        nft::match(nft::ct("status"), "dnat", "in"), nft::masquerade()},
       "hairpin: a client to a published service in its own network"});
  post.rules.push_back(
      {{nft::snat_from_map(nft::concat({nft::payload("ip", "saddr"), nft::meta("oifname")}),
                           names::kEipSnat)},
       "elastic IPs, outbound"});
  // SNAT to the address of the uplink the flow leaves through (routing picked it); not
  // `masquerade`, whose address choice and conntrack cleanup are the kernel's: vmgw deletes
  // the flows of a dead uplink itself (daemon/uplinks).
  post.rules.push_back(
      {{nft::match(nft::concat({nft::meta("oifname"), nft::payload("ip", "saddr")}),
                   nft::set_ref(names::kMasquerade)),
        nft::counter(), nft::snat_from_map(nft::meta("oifname"), names::kUplinkSnat)},
       "networks masqueraded behind their uplinks"});
}

}  // namespace vmgw::compile_detail
