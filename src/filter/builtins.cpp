// The built-in filters. Each one behaves as the libvirt filter of the same name: same chain, same
// chain priority, same rules at the same rule priorities (so that an operator's own filters
// interleave with them exactly as they would under libvirt). The XML and its comments are
// vmgw's own.
//
// The set is what libvirt ships in /usr/share/libvirt/nwfilter: the IPv4 and layer-2 filters,
// clean-traffic and clean-traffic-gateway, and the IPv6 ones libvirt added later:
// allow-dhcpv6, allow-dhcpv6-server, allow-incoming-ipv6, allow-ipv6, no-ipv6-multicast,
// no-ipv6-spoofing. (Like libvirt's, clean-traffic does not use the IPv6 ones: it drops IPv6.)
//
// Direction is seen from the VM: "out" is what the VM sends, "in" what it receives.
#include "filter/builtins.h"

#include <algorithm>
#include <array>
#include <stdexcept>
#include <string>

#include "filter/parse.h"

namespace vmgw::filter {
namespace {

constexpr std::array kBuiltins{
    BuiltinFilter{"allow-arp", R"xml(
<filter name='allow-arp' chain='arp'>
  <!-- ARP is free to pass, both ways. -->
  <rule action='accept' direction='inout'/>
</filter>
)xml",
                  "accepts all ARP"},

    BuiltinFilter{"allow-dhcp", R"xml(
<filter name='allow-dhcp' chain='ipv4'>
  <!-- A DHCP client: its broadcast request, and the answer of any server. Priority 100 puts
       both before rules that drop broadcast frames (the request goes to ff:ff:ff:ff:ff:ff). -->
  <rule action='accept' direction='out' priority='100'>
    <ip protocol='udp' srcipaddr='0.0.0.0' srcportstart='68'
        dstipaddr='255.255.255.255' dstportstart='67'/>
  </rule>
  <rule action='accept' direction='in' priority='100'>
    <ip protocol='udp' srcportstart='67' dstportstart='68'/>
  </rule>
</filter>
)xml",
                  "accepts the VM's DHCP requests and the answers of any DHCP server"},

    BuiltinFilter{"allow-dhcp-server", R"xml(
<filter name='allow-dhcp-server' chain='ipv4'>
  <!-- As allow-dhcp, but answers are accepted only from the server(s) in $DHCPSERVER, so a
       rogue server on the network cannot hand the VM an address. -->
  <rule action='accept' direction='out' priority='100'>
    <ip protocol='udp' srcipaddr='0.0.0.0' srcportstart='68'
        dstipaddr='255.255.255.255' dstportstart='67'/>
  </rule>
  <rule action='accept' direction='in' priority='100'>
    <ip protocol='udp' srcipaddr='$DHCPSERVER' srcportstart='67' dstportstart='68'/>
  </rule>
</filter>
)xml",
                  "accepts the VM's DHCP requests and the answers of the servers in DHCPSERVER"},

    BuiltinFilter{"allow-dhcpv6", R"xml(
<filter name='allow-dhcpv6' chain='ipv6'>
  <!-- A DHCPv6 client (RFC 8415): it asks from its link-local address (fe80::/10) to the
       all-servers group ff02::1:2, port 546 to 547; any server may answer, 547 to 546. -->
  <rule action='accept' direction='out' priority='100'>
    <ipv6 protocol='udp' srcipaddr='fe80::' srcipmask='10' srcportstart='546'
          dstipaddr='ff02::1:2' dstportstart='547'/>
  </rule>
  <rule action='accept' direction='in' priority='100'>
    <ipv6 protocol='udp' srcportstart='547' dstportstart='546'/>
  </rule>
</filter>
)xml",
                  "accepts the VM's DHCPv6 requests and the answers of any DHCPv6 server"},

    BuiltinFilter{"allow-dhcpv6-server", R"xml(
<filter name='allow-dhcpv6-server' chain='ipv6'>
  <!-- As allow-dhcpv6, answers only from $DHCPSERVER (IPv6 addresses here; libvirt uses the
       same variable name for both families). -->
  <rule action='accept' direction='out' priority='100'>
    <ipv6 protocol='udp' srcipaddr='fe80::' srcipmask='10' srcportstart='546'
          dstipaddr='ff02::1:2' dstportstart='547'/>
  </rule>
  <rule action='accept' direction='in' priority='100'>
    <ipv6 protocol='udp' srcipaddr='$DHCPSERVER' srcportstart='547' dstportstart='546'/>
  </rule>
</filter>
)xml",
                  "accepts the VM's DHCPv6 requests and the answers of the servers in DHCPSERVER"},

    BuiltinFilter{"allow-incoming-ipv4", R"xml(
<filter name='allow-incoming-ipv4' chain='ipv4'>
  <!-- Whatever IPv4 reaches the VM is accepted. -->
  <rule action='accept' direction='in'/>
</filter>
)xml",
                  "accepts all IPv4 sent to the VM"},

    BuiltinFilter{"allow-incoming-ipv6", R"xml(
<filter name='allow-incoming-ipv6' chain='ipv6'>
  <!-- Whatever IPv6 reaches the VM is accepted. -->
  <rule action='accept' direction='in'/>
</filter>
)xml",
                  "accepts all IPv6 sent to the VM"},

    BuiltinFilter{"allow-ipv4", R"xml(
<filter name='allow-ipv4' chain='ipv4'>
  <!-- IPv4 is free to pass, both ways. -->
  <rule action='accept' direction='inout'/>
</filter>
)xml",
                  "accepts all IPv4"},

    BuiltinFilter{"allow-ipv6", R"xml(
<filter name='allow-ipv6' chain='ipv6'>
  <!-- IPv6 is free to pass, both ways. -->
  <rule action='accept' direction='inout'/>
</filter>
)xml",
                  "accepts all IPv6"},

    BuiltinFilter{"clean-traffic", R"xml(
<filter name='clean-traffic' chain='root'>
  <!-- The usual filter for a VM: it may only send with its own MAC, its own IPv4 address(es)
       and truthful ARP; it may receive any IPv4 and ARP; every other protocol is dropped,
       except qemu's announcement after a migration. -->
  <filterref filter='no-mac-spoofing'/>
  <filterref filter='no-ip-spoofing'/>
  <!-- IPv4 the VM sends that no-ip-spoofing let through (chain ipv4-ip, -710) is accepted
       here, before anything later in root could drop it. -->
  <rule action='accept' direction='out' priority='-650'>
    <mac protocolid='ipv4'/>
  </rule>
  <filterref filter='allow-incoming-ipv4'/>
  <filterref filter='no-arp-spoofing'/>
  <!-- ARP that survived no-arp-spoofing (chains at -520 and -510) is accepted, both ways. -->
  <rule action='accept' direction='inout' priority='-500'>
    <mac protocolid='arp'/>
  </rule>
  <filterref filter='no-other-l2-traffic'/>
  <filterref filter='qemu-announce-self'/>
</filter>
)xml",
                  "no MAC, IPv4 or ARP spoofing; IPv4 and ARP only"},

    BuiltinFilter{"clean-traffic-gateway", R"xml(
<filter name='clean-traffic-gateway' chain='root'>
  <!-- clean-traffic for a VM that may talk to its gateway(s) only: besides ARP, frames are
       accepted only from and to the MAC addresses in $GATEWAY_MAC. -->
  <filterref filter='no-mac-spoofing'/>
  <filterref filter='no-ip-spoofing'/>
  <filterref filter='no-arp-spoofing'/>
  <rule action='accept' direction='inout' priority='-500'>
    <mac protocolid='arp'/>
  </rule>
  <rule action='accept' direction='in'>
    <mac srcmacaddr='$GATEWAY_MAC'/>
  </rule>
  <rule action='accept' direction='out'>
    <mac dstmacaddr='$GATEWAY_MAC'/>
  </rule>
  <filterref filter='no-other-l2-traffic'/>
  <filterref filter='qemu-announce-self-rarp'/>
</filter>
)xml",
                  "clean-traffic, but the VM may only exchange frames with GATEWAY_MAC (and ARP)"},

    BuiltinFilter{"no-arp-ip-spoofing", R"xml(
<filter name='no-arp-ip-spoofing' chain='arp-ip' priority='-510'>
  <!-- ARP the VM sends must claim one of its own IPv4 addresses as sender. -->
  <rule action='return' direction='out' priority='400'>
    <arp arpsrcipaddr='$IP'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
)xml",
                  "drops ARP sent by the VM whose sender IP is not in IP"},

    BuiltinFilter{"no-arp-mac-spoofing", R"xml(
<filter name='no-arp-mac-spoofing' chain='arp-mac' priority='-520'>
  <!-- ARP the VM sends must claim its own MAC address as sender. -->
  <rule action='return' direction='out' priority='350'>
    <arp arpsrcmacaddr='$MAC'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
)xml",
                  "drops ARP sent by the VM whose sender MAC is not MAC"},

    BuiltinFilter{"no-arp-spoofing", R"xml(
<filter name='no-arp-spoofing' chain='root'>
  <!-- Both halves of ARP spoofing: a false sender MAC, a false sender IP. -->
  <filterref filter='no-arp-mac-spoofing'/>
  <filterref filter='no-arp-ip-spoofing'/>
</filter>
)xml",
                  "no-arp-mac-spoofing and no-arp-ip-spoofing"},

    BuiltinFilter{"no-ip-multicast", R"xml(
<filter name='no-ip-multicast' chain='ipv4'>
  <!-- The VM may not send to IPv4 multicast groups (224.0.0.0/4); receiving is not changed. -->
  <rule action='drop' direction='out'>
    <ip dstipaddr='224.0.0.0' dstipmask='4'/>
  </rule>
</filter>
)xml",
                  "drops IPv4 multicast sent by the VM"},

    BuiltinFilter{"no-ip-spoofing", R"xml(
<filter name='no-ip-spoofing' chain='ipv4-ip' priority='-710'>
  <!-- IPv4 the VM sends must come from one of its addresses ($IP). UDP from 0.0.0.0 passes
       too: a DHCP client has no address yet (the DHCP filters judge it further). -->
  <rule action='return' direction='out' priority='100'>
    <ip protocol='udp' srcipaddr='0.0.0.0'/>
  </rule>
  <rule action='return' direction='out'>
    <ip srcipaddr='$IP'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
)xml",
                  "drops IPv4 sent by the VM from an address not in IP"},

    BuiltinFilter{"no-ipv6-multicast", R"xml(
<filter name='no-ipv6-multicast' chain='ipv6'>
  <!-- The VM may not send to IPv6 multicast groups (ff00::/8); receiving is not changed.
       (This includes neighbour discovery, which uses multicast.) -->
  <rule action='drop' direction='out'>
    <ipv6 dstipaddr='ff00::' dstipmask='8'/>
  </rule>
</filter>
)xml",
                  "drops IPv6 multicast sent by the VM"},

    BuiltinFilter{"no-ipv6-spoofing", R"xml(
<filter name='no-ipv6-spoofing' chain='ipv6-ip' priority='-610'>
  <!-- IPv6 the VM sends must come from one of its addresses ($IPV6). UDP from a link-local
       address passes too, for DHCPv6 (the DHCPv6 filters judge it further). -->
  <rule action='return' direction='out' priority='100'>
    <ipv6 protocol='udp' srcipaddr='fe80::' srcipmask='10'/>
  </rule>
  <rule action='return' direction='out'>
    <ipv6 srcipaddr='$IPV6'/>
  </rule>
  <rule action='drop' direction='out' priority='1000'/>
</filter>
)xml",
                  "drops IPv6 sent by the VM from an address not in IPV6"},

    BuiltinFilter{"no-mac-broadcast", R"xml(
<filter name='no-mac-broadcast' chain='ipv4'>
  <!-- IPv4 frames the VM sends to the Ethernet broadcast address are dropped; receiving is
       not changed. -->
  <rule action='drop' direction='out'>
    <mac dstmacaddr='ff:ff:ff:ff:ff:ff'/>
  </rule>
</filter>
)xml",
                  "drops IPv4 frames the VM sends to ff:ff:ff:ff:ff:ff"},

    BuiltinFilter{"no-mac-spoofing", R"xml(
<filter name='no-mac-spoofing' chain='mac'>
  <!-- Every frame the VM sends must carry its own MAC address as source. -->
  <rule action='return' direction='out'>
    <mac srcmacaddr='$MAC'/>
  </rule>
  <rule action='drop' direction='out'/>
</filter>
)xml",
                  "drops frames sent by the VM with a source MAC other than MAC"},

    BuiltinFilter{"no-other-l2-traffic", R"xml(
<filter name='no-other-l2-traffic' chain='root'>
  <!-- The end of the root chain: whatever no earlier rule accepted is dropped, both ways.
       Use it after the filters that accept what the VM may exchange. -->
  <rule action='drop' direction='inout' priority='1000'/>
</filter>
)xml",
                  "drops every frame not accepted before it"},

    BuiltinFilter{"no-other-rarp-traffic", R"xml(
<filter name='no-other-rarp-traffic' chain='rarp'>
  <!-- The end of the rarp chain: RARP not accepted before is dropped, both ways. -->
  <rule action='drop' direction='inout' priority='1000'/>
</filter>
)xml",
                  "drops RARP not accepted before it"},

    BuiltinFilter{"qemu-announce-self", R"xml(
<filter name='qemu-announce-self' chain='root'>
  <!-- After a migration qemu announces the VM's MAC so that switches learn its new port.
       Old qemu versions sent the announcement with ether type 0x835 instead of RARP's
       0x8035: accept that, and the proper RARP form, and no other RARP. -->
  <rule action='accept' direction='out'>
    <mac protocolid='0x835'/>
  </rule>
  <filterref filter='qemu-announce-self-rarp'/>
  <filterref filter='no-other-rarp-traffic'/>
</filter>
)xml",
                  "accepts qemu's post-migration announcement (both forms), drops other RARP"},

    BuiltinFilter{"qemu-announce-self-rarp", R"xml(
<filter name='qemu-announce-self-rarp' chain='rarp'>
  <!-- qemu's announcement: a broadcast RARP request in which the VM asks for its own MAC,
       with both IP addresses 0.0.0.0. Accepted when the VM sends it, and when the same
       announcement reaches the VM. -->
  <rule action='accept' direction='out'>
    <rarp opcode='Request_Reverse' srcmacaddr='$MAC' dstmacaddr='ff:ff:ff:ff:ff:ff'
          arpsrcmacaddr='$MAC' arpdstmacaddr='$MAC'
          arpsrcipaddr='0.0.0.0' arpdstipaddr='0.0.0.0'/>
  </rule>
  <rule action='accept' direction='in'>
    <rarp opcode='Request_Reverse' dstmacaddr='ff:ff:ff:ff:ff:ff'
          arpsrcmacaddr='$MAC' arpdstmacaddr='$MAC'
          arpsrcipaddr='0.0.0.0' arpdstipaddr='0.0.0.0'/>
  </rule>
</filter>
)xml",
                  "accepts qemu's post-migration RARP announcement of MAC"},
};

static_assert(std::ranges::is_sorted(kBuiltins, {}, &BuiltinFilter::name),
              "built-ins must be sorted by name");
static_assert(std::ranges::adjacent_find(kBuiltins, {}, &BuiltinFilter::name) == kBuiltins.end(),
              "built-in names must be unique");

}  // namespace

std::span<const BuiltinFilter> builtin_filters() {
  return kBuiltins;
}

bool is_builtin(std::string_view name) {
  return std::ranges::binary_search(kBuiltins, name, {}, &BuiltinFilter::name);
}

namespace {

constexpr std::string_view kBuiltinFilePrefix = "builtin:";

FilterCatalog parse_builtins() {
  FilterCatalog catalog;
  for (const auto& b : kBuiltins) {
    const std::string file = std::string(kBuiltinFilePrefix) + std::string(b.name);
    auto r = parse_filter_xml(std::string(b.xml), file);
    if (!r.ok() || r.filter->name != b.name) {
      std::string why = "built-in filter '" + std::string(b.name) + "' is invalid:";
      for (const auto& e : r.errors) why += "\n" + e.str();
      if (r.ok()) why += " it is named '" + r.filter->name + "'";
      throw std::logic_error(why);
    }
    catalog.add_or_replace(std::move(*r.filter));
  }
  if (auto errors = catalog.check_all(); !errors.empty()) {
    std::string why = "built-in filters reference unknown filters:";
    for (const auto& e : errors) why += "\n" + e.str();
    throw std::logic_error(why);
  }
  return catalog;
}

const FilterCatalog& parsed_builtins() {
  // Parsed once: every change the daemon validates starts from this catalog.
  static const FilterCatalog parsed = parse_builtins();
  return parsed;
}

}  // namespace

FilterCatalog builtin_catalog() {
  return parsed_builtins();
}

const Filter* shipped_builtin(std::string_view name) {
  return parsed_builtins().lookup(name);
}

bool is_shipped_builtin(const Filter& f) {
  // Built-ins are parsed from "builtin:<name>"; operators' filters from a file or the API.
  return is_builtin(f.name) && f.file.path.size() == kBuiltinFilePrefix.size() + f.name.size() &&
         f.file.path.starts_with(kBuiltinFilePrefix) && f.file.path.ends_with(f.name);
}

}  // namespace vmgw::filter
