// Defining filters over the built-ins in vmgwd (issue 16): libvirt's own files of the built-ins
// change nothing; another content replaces the built-in (the VMs using it follow), and
// undefining the replacement brings the built-in back.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "../filter/corpus.h"
#include "backend/fake_nft_backend.h"
#include "backend/fake_rtnl.h"
#include "daemon/gateway.h"
#include "daemon_topology.h"
#include "fake_gateway.h"
#include "filter/builtins.h"
#include "filter/compare.h"

namespace vmgw::daemon {
namespace {

using testing::topology;

struct GatewayFilters : ::testing::Test, vmgw::testing::FakeGatewayHost {
  std::unique_ptr<Gateway> gw;

  void SetUp() override {
    rtnl.add_link("wan0", "veth");
    rtnl.add_link("vnet-web", "veth");
    gw = std::make_unique<Gateway>(topology(), deps());
    gw->start();
  }
  int status_of(const std::function<void()>& f) {
    try {
      f();
    } catch (const ServiceError& e) {
      return e.status;
    }
    return 0;
  }
  std::string libvirt_file(const std::string& name) {
    return filter::testing::read_text(filter::testing::corpus_dir() / "libvirt" / (name + ".xml"));
  }
};

// A host whose /etc/libvirt/nwfilter is copied over: every file is accepted, and nothing changes.
TEST_F(GatewayFilters, LibvirtsFilesOfTheBuiltinsAreUnchanged) {
  const int batches = nft.batches_applied;
  for (const auto& b : filter::builtin_filters()) {
    auto d = gw->define_filter(libvirt_file(std::string(b.name)));
    EXPECT_EQ(d.outcome, FilterOutcome::unchanged) << b.name;
    EXPECT_TRUE(filter::is_shipped_builtin(*gw->filters().lookup(b.name))) << b.name;
  }
  EXPECT_EQ(nft.batches_applied, batches);
  EXPECT_TRUE(store->load().filters.empty());
}

TEST_F(GatewayFilters, AnotherContentReplacesTheBuiltinUntilUndefined) {
  gw->add_vm({"web",
              "vmnet",
              *Mac::parse("52:54:00:00:00:0a"),
              std::nullopt,
              "vnet-web",
              {{"clean-traffic", {}}}});
  // no-ip-spoofing without its DHCP exception: clean-traffic (which references it) changes.
  std::string xml = libvirt_file("no-ip-spoofing");
  const std::string dhcp_rule = "<ip srcipaddr='0.0.0.0' protocol='udp'/>";
  xml.replace(xml.find(dhcp_rule), dhcp_rule.size(), "<ip srcipaddr='0.0.0.0' protocol='tcp'/>");
  auto d = gw->define_filter(xml);
  EXPECT_EQ(d.outcome, FilterOutcome::replaces_builtin);
  EXPECT_EQ(d.builtin_difference, "rule[1]: protocol 'tcp' instead of 'udp'");
  EXPECT_EQ(d.vms_updated, std::vector<std::string>{"web"});
  const filter::Filter* now = gw->filters().lookup("no-ip-spoofing");
  ASSERT_NE(now, nullptr);
  EXPECT_FALSE(filter::is_shipped_builtin(*now));
  EXPECT_EQ(store->load().filters.size(), 1U);

  // The same replacement again changes nothing.
  EXPECT_EQ(gw->define_filter(xml).outcome, FilterOutcome::unchanged);

  // The built-in's content (libvirt's file) brings the built-in back...
  d = gw->define_filter(libvirt_file("no-ip-spoofing"));
  EXPECT_EQ(d.outcome, FilterOutcome::restores_builtin);
  EXPECT_EQ(d.vms_updated, std::vector<std::string>{"web"});
  EXPECT_TRUE(filter::is_shipped_builtin(*gw->filters().lookup("no-ip-spoofing")));
  EXPECT_TRUE(store->load().filters.empty());

  // ...and so does undefining the replacement, although a VM uses the filter.
  gw->define_filter(xml);
  d = gw->undefine_filter("no-ip-spoofing");
  EXPECT_EQ(d.outcome, FilterOutcome::restores_builtin);
  EXPECT_TRUE(filter::is_shipped_builtin(*gw->filters().lookup("no-ip-spoofing")));
  EXPECT_TRUE(store->load().filters.empty());

  // The built-in itself cannot be undefined.
  EXPECT_EQ(status_of([&] { gw->undefine_filter("no-ip-spoofing"); }), 409);
}

TEST_F(GatewayFilters, AReplacementSurvivesARestart) {
  gw->define_filter(
      "<filter name='allow-arp' chain='arp'><rule action='drop' direction='in'/>"
      "</filter>");
  gw = std::make_unique<Gateway>(topology(), deps());
  gw->start();
  const filter::Filter* f = gw->filters().lookup("allow-arp");
  ASSERT_NE(f, nullptr);
  EXPECT_FALSE(filter::is_shipped_builtin(*f));
  EXPECT_EQ(filter::first_difference(*f, *filter::shipped_builtin("allow-arp")),
            "rule[1]: action 'drop' instead of 'accept'");
}

TEST_F(GatewayFilters, AnOperatorsFilterDefinedAgainIsUnchanged) {
  const std::string xml =
      "<filter name='web-in'><rule action='accept' direction='in'><tcp dstportstart='80'/>"
      "</rule></filter>";
  EXPECT_EQ(gw->define_filter(xml).outcome, FilterOutcome::defined);
  EXPECT_EQ(gw->define_filter("<!-- again -->\n" + xml).outcome, FilterOutcome::unchanged);
  std::string other = xml;
  other.replace(other.find("'80'"), 4, "'81'");
  EXPECT_EQ(gw->define_filter(other).outcome, FilterOutcome::redefined);
  EXPECT_EQ(gw->undefine_filter("web-in").outcome, FilterOutcome::undefined);
}

}  // namespace
}  // namespace vmgw::daemon

namespace vmgw::daemon {
namespace {

// A binding an older vmgw stored (plain lists of different lengths in one rule: every
// combination then, refused now as libvirt refuses it) does not keep vmgwd from starting: the
// VM is cut (quarantined, the binding removed), and the start says why.
TEST_F(GatewayFilters, AStoredBindingThatNoLongerExpandsQuarantinesItsVmAtStart) {
  {
    auto txn = store->begin();
    txn->put_filter({"allow-to",
                     "<filter name='allow-to' chain='root'><rule action='accept' direction='out' "
                     "priority='100'><tcp dstipaddr='$TO' dstportstart='$PORT'/></rule></filter>"});
    store::VmRecord web{"web", "vmnet", *Mac::parse("52:54:00:00:00:0a"), *Ipv4::parse("10.10.0.2"),
                        "vnet-web"};
    web.filters = {
        {"allow-to", {{"TO", "198.51.100.10"}, {"TO", "198.51.100.11"}, {"PORT", "80"}}}};
    txn->add_vm(web);
    txn->set_generation(7);
    txn->commit();
  }
  Gateway again(topology(), deps());
  ASSERT_NO_THROW(again.start());
  ASSERT_EQ(again.start_notes().size(), 1u);
  EXPECT_NE(again.start_notes()[0].find("vm 'web' is quarantined and its filters (allow-to) "
                                        "unbound: they no longer expand"),
            std::string::npos)
      << again.start_notes()[0];
  const auto* web = again.vm_record("web");
  ASSERT_TRUE(web);
  EXPECT_TRUE(web->filters.empty());
  EXPECT_TRUE(web->quarantine);
  EXPECT_EQ(again.state().generation, 8u);
  // Stored: the next start finds nothing to say.
  Gateway third(topology(), deps());
  third.start();
  EXPECT_TRUE(third.start_notes().empty());
}

}  // namespace
}  // namespace vmgw::daemon
