// What vmgw makes of libvirt domains: the domain XML read, the VMs its interfaces become, and
// the changes that keep the objects a domain owns equal to it.
#include "libvirt/follow.h"

#include <gtest/gtest.h>

#include "libvirt/domain.h"

namespace vmgw::libvirt {
namespace {

// A running domain as `virsh dumpxml` shows it (trimmed), two NICs on vmgw's bridge and one on
// another bridge.
constexpr const char* kWeb = R"(<domain type='kvm' id='3'>
  <name>Web.01</name>
  <uuid>4dea22b3-1d52-d8f3-2516-782e98ab3fa0</uuid>
  <metadata>
    <other:thing xmlns:other="https://example.org/other"><interface mac="52:54:00:00:01:01" name="nope"/></other:thing>
    <v:vmgw xmlns:v="https://vmgw.dev/xmlns/libvirt/1">
      <v:interface mac="52:54:00:00:01:02" name="web-admin" eip-pool="public">
        <v:filterref filter="clean-traffic"><v:parameter name="IP" value="10.10.0.5"/></v:filterref>
      </v:interface>
    </v:vmgw>
  </metadata>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='bridge'>
      <mac address='52:54:00:00:01:01'/>
      <source bridge='br-vm'/>
      <target dev='vnet3'/>
      <model type='virtio'/>
      <filterref filter='no-ip-spoofing'><parameter name='IP' value='10.10.0.4'/></filterref>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:00:01:02'/>
      <source bridge='br-vm'/>
      <target dev='vnet4'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:00:01:03'/>
      <source network='default' bridge='virbr0'/>
      <target dev='vnet5'/>
    </interface>
  </devices>
</domain>)";

const std::vector<FollowedNetwork> kFollowed{{"vmnet", "br-vm"}};

Domain web() {
  auto d = parse_domain_xml(kWeb);
  EXPECT_TRUE(d.domain) << d.error;
  return *d.domain;
}

TEST(LibvirtDomainXml, ReadsInterfacesAndTheVmgwMetadataByNamespace) {
  Domain d = web();
  EXPECT_EQ(d.name, "Web.01");
  EXPECT_EQ(d.uuid, "4dea22b3-1d52-d8f3-2516-782e98ab3fa0");
  ASSERT_EQ(d.interfaces.size(), 3u);
  EXPECT_EQ(d.interfaces[0].mac.str(), "52:54:00:00:01:01");
  EXPECT_EQ(d.interfaces[0].bridge, "br-vm");
  EXPECT_EQ(d.interfaces[0].device, "vnet3");
  ASSERT_TRUE(d.interfaces[0].libvirt_filter);
  EXPECT_EQ(d.interfaces[0].libvirt_filter->filter, "no-ip-spoofing");
  EXPECT_EQ(d.interfaces[2].bridge, "virbr0");
  // Another program's metadata is not vmgw's, whatever its elements are called.
  ASSERT_EQ(d.vmgw.size(), 1u);
  EXPECT_EQ(d.vmgw[0].mac.str(), "52:54:00:00:01:02");
  EXPECT_EQ(d.vmgw[0].name, "web-admin");
  EXPECT_EQ(d.vmgw[0].eip_pool, "public");
  ASSERT_EQ(d.vmgw[0].filters.size(), 1u);
  EXPECT_EQ(d.vmgw[0].filters[0].params,
            (std::vector<std::pair<std::string, std::string>>{{"IP", "10.10.0.5"}}));
}

TEST(LibvirtDomainXml, SaysWhereTheXmlIsNotADomain) {
  EXPECT_EQ(parse_domain_xml("<domain><name>x").error, "not well-formed XML");
  EXPECT_EQ(parse_domain_xml("<network/>").error,
            "not a libvirt domain (the root element is not <domain>)");
  EXPECT_EQ(parse_domain_xml("<domain><name>x</name><uuid>u</uuid><devices><interface>"
                             "<mac address='zz'/></interface></devices></domain>")
                .error,
            "devices/interface[1]/mac/@address: 'zz' is not a MAC address");
  EXPECT_EQ(parse_domain_xml("<domain><name>x</name></domain>").error, "uuid: missing");
}

TEST(LibvirtFollow, InterfacesOnFollowedBridgesBecomeVms) {
  auto vms = domain_vms(web(), true, kFollowed);
  ASSERT_EQ(vms.vms.size(), 2u) << (vms.refused.empty() ? "" : vms.refused[0]);
  // The first: named after the domain (a vmgw name), its address from the filter libvirt
  // enforces, no filter of vmgw's, and a notice saying so.
  EXPECT_EQ(vms.vms[0].name, "web-01");
  EXPECT_EQ(vms.vms[0].network, "vmnet");
  EXPECT_EQ(vms.vms[0].port, "vnet3");
  EXPECT_EQ(vms.vms[0].ip, Ipv4::parse("10.10.0.4"));
  EXPECT_TRUE(vms.vms[0].filters.empty());
  ASSERT_EQ(vms.notices.size(), 1u);
  EXPECT_NE(vms.notices[0].find("'no-ip-spoofing' is enforced by libvirt's nwfilter, not by vmgw"),
            std::string::npos);
  // The second: named by the metadata, filtered by vmgw, with an elastic IP to allocate.
  EXPECT_EQ(vms.vms[1].name, "web-admin");
  EXPECT_EQ(vms.vms[1].ip, Ipv4::parse("10.10.0.5"));
  ASSERT_EQ(vms.vms[1].filters.size(), 1u);
  EXPECT_EQ(vms.vms[1].filters[0].filter, "clean-traffic");
  EXPECT_EQ(vms.vms[1].eip_pool, "public");
  // A stopped domain's VMs are unplugged.
  for (const auto& v : domain_vms(web(), false, kFollowed).vms) EXPECT_EQ(v.port, "");
  // A network not followed: nothing.
  EXPECT_TRUE(domain_vms(web(), true, {{"lan", "lan0"}}).vms.empty());
}

TEST(LibvirtFollow, ASecondInterfaceWithoutANameGetsItsMacInItsName) {
  Domain d = web();
  d.vmgw.clear();
  auto vms = domain_vms(d, true, kFollowed);
  ASSERT_EQ(vms.vms.size(), 2u);
  EXPECT_EQ(vms.vms[1].name, "web-01-000102");
}

TEST(LibvirtFollow, FiltersOfLibvirtAndOfVmgwOnOneInterfaceAreRefused) {
  Domain d = web();
  d.vmgw[0].mac = d.interfaces[0].mac;  // vmgw metadata for the NIC with a plain <filterref>
  auto vms = domain_vms(d, true, kFollowed);
  ASSERT_EQ(vms.refused.size(), 1u);
  EXPECT_NE(vms.refused[0].find("both libvirt (<filterref filter='no-ip-spoofing'> on the "
                                "interface) and vmgw (its metadata) would filter it"),
            std::string::npos);
  // The other interface is still taken.
  ASSERT_EQ(vms.vms.size(), 1u);
  EXPECT_EQ(vms.vms[0].name, "web-01-000102");
}

TEST(LibvirtFollow, ADomainNameThatIsNoVmNameNeedsOneInTheMetadata) {
  Domain d = web();
  d.name = "-";
  d.vmgw.clear();
  d.interfaces.resize(1);
  auto vms = domain_vms(d, true, kFollowed);
  ASSERT_EQ(vms.refused.size(), 1u);
  EXPECT_NE(vms.refused[0].find("give one in the domain's vmgw metadata"), std::string::npos);
}

store::VmRecord record(const DomainVm& v) {
  store::VmRecord r;
  r.name = v.name;
  r.network = v.network;
  r.mac = v.mac;
  r.ip = v.ip.value_or(*Ipv4::parse("10.10.0.9"));
  r.port = v.port;
  r.filters = v.filters;
  r.owner = owner_of("u");
  return r;
}

std::vector<std::string> kinds(const std::vector<FollowChange>& changes) {
  std::vector<std::string> out;
  for (const auto& c : changes) {
    const char* k = c.kind == FollowChange::Kind::add   ? "add "
                    : c.kind == FollowChange::Kind::set ? "set "
                                                        : "remove ";
    out.push_back(k + c.vm.name);
  }
  return out;
}

TEST(LibvirtReconcile, AddsChangesAndRemovesWhatTheDomainOwns) {
  auto running = domain_vms(web(), true, kFollowed);
  // Nothing yet: both are added.
  EXPECT_EQ(kinds(reconcile(running, {})),
            (std::vector<std::string>{"add web-01", "add web-admin"}));
  std::vector<store::VmRecord> owned{record(running.vms[0]), record(running.vms[1])};
  // Equal: nothing to do.
  EXPECT_TRUE(reconcile(running, owned).empty());
  // Stopped: both unplugged, kept; its filters go with the tap (and come back with the next).
  auto changes = reconcile(domain_vms(web(), false, kFollowed), owned);
  EXPECT_EQ(kinds(changes), (std::vector<std::string>{"set web-01", "set web-admin"}));
  EXPECT_EQ(changes[0].why, "unplugged (the domain is not running)");
  EXPECT_TRUE(changes[1].vm.filters.empty());
  // A NIC unplugged and its metadata's filter changed.
  Domain d = web();
  d.interfaces.erase(d.interfaces.begin());
  d.vmgw[0].filters[0].filter = "no-mac-spoofing";
  auto after = domain_vms(d, true, kFollowed);
  EXPECT_EQ(kinds(reconcile(after, owned)),
            (std::vector<std::string>{"remove web-01", "set web-admin"}));
  // The domain gone: everything it owns goes.
  EXPECT_EQ(kinds(reconcile(std::nullopt, owned)),
            (std::vector<std::string>{"remove web-01", "remove web-admin"}));
}

TEST(LibvirtReconcile, RemovalsComeFirstSoAFreedMacCanBeTaken) {
  auto running = domain_vms(web(), true, kFollowed);
  std::vector<store::VmRecord> owned{record(running.vms[0])};
  owned[0].name = "old-name";  // the metadata renamed it
  EXPECT_EQ(kinds(reconcile(running, owned)),
            (std::vector<std::string>{"remove old-name", "add web-01", "add web-admin"}));
}

TEST(LibvirtOwner, RoundTrips) {
  EXPECT_EQ(domain_of(owner_of("4dea")), "4dea");
  EXPECT_TRUE(owned_by_libvirt(owner_of("x")));
  EXPECT_FALSE(owned_by_libvirt(""));
  EXPECT_EQ(domain_of(""), "");
}

}  // namespace
}  // namespace vmgw::libvirt
