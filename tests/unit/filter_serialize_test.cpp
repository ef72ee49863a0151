// dumpxml: filter_to_xml writes libvirt-style XML that parses back to the same filter.
#include <gtest/gtest.h>

#include "../filter/corpus.h"
#include "filter/parse.h"
#include "filter/serialize.h"

namespace vmgw::filter {
namespace {

using testing::corpus_dir;
using testing::errors_text;
using testing::parse_ok;
using testing::read_text;
using testing::xml_files;

// parse(serialize(parse(x))) == parse(x), and serializing again gives the same text.
TEST(FilterSerialize, CorpusRoundTrips) {
  for (const auto& p : xml_files(corpus_dir())) {
    SCOPED_TRACE(p.filename().string());
    Filter f = parse_ok(read_text(p), p.string());
    std::string xml = filter_to_xml(f);
    auto again = parse_filter_xml(xml, "dump.xml");
    ASSERT_TRUE(again.ok()) << errors_text(again.errors) << xml;
    EXPECT_EQ(*again.filter, f) << xml;
    EXPECT_EQ(filter_to_xml(*again.filter), xml);
  }
}

TEST(FilterSerialize, LibvirtStyle) {
  Filter f = parse_ok(
      "<filter name=\"web\" chain=\"ipv4\">\n"
      "<uuid>fce8ae33-e69e-83bf-262e-30786c1f8072</uuid>\n"
      "<!-- dropped -->\n"
      "<rule action='drop' direction='out' priority='500' log='yes'>"
      "<ip match='no' srcipaddr='$IP'/></rule>\n"
      "<rule statematch='false' direction='in' action='accept'>"
      "<tcp dstportstart='80' srcipaddr='10.0.0.0' srcipmask='8'/></rule>\n"
      "<filterref filter='no-mac-spoofing'/>\n"
      "<filterref filter='allow-dhcp-server'><parameter name='DHCPSERVER' value='10.0.0.1'/>"
      "</filterref>\n"
      "</filter>");
  EXPECT_EQ(filter_to_xml(f),
            "<filter name='web' chain='ipv4'>\n"
            "  <uuid>fce8ae33-e69e-83bf-262e-30786c1f8072</uuid>\n"
            "  <rule action='drop' direction='out' priority='500' log='yes'>\n"
            "    <ip match='no' srcipaddr='$IP'/>\n"
            "  </rule>\n"
            "  <rule action='accept' direction='in' statematch='false'>\n"
            "    <tcp dstportstart='80' srcipaddr='10.0.0.0' srcipmask='8'/>\n"
            "  </rule>\n"
            "  <filterref filter='no-mac-spoofing'/>\n"
            "  <filterref filter='allow-dhcp-server'>\n"
            "    <parameter name='DHCPSERVER' value='10.0.0.1'/>\n"
            "  </filterref>\n"
            "</filter>\n");
}

TEST(FilterSerialize, EmptyFilterAndRule) {
  EXPECT_EQ(filter_to_xml(parse_ok("<filter name='e'></filter>")), "<filter name='e'/>\n");
  EXPECT_EQ(filter_to_xml(parse_ok("<filter name='e' priority='-7'>"
                                   "<rule action='drop' direction='inout'></rule></filter>")),
            "<filter name='e' priority='-7'>\n"
            "  <rule action='drop' direction='inout'/>\n"
            "</filter>\n");
}

TEST(FilterSerialize, EscapesEverythingThatWouldNotSurvive) {
  EXPECT_EQ(xml_attr_escape("a'b\"c&d<e>f\tg\nh\ri"),
            "a&apos;b&quot;c&amp;d&lt;e&gt;f&#9;g&#10;h&#13;i");
  Filter f;
  f.name = "x";
  Rule r;
  ProtocolMatch m;
  m.protocol = Protocol::tcp;
  m.attributes.push_back({"comment", AttrValue{"it's <\"odd\">\n\ttext & more", {}, true}});
  r.matches.push_back(m);
  f.entries.emplace_back(r);
  auto again = parse_filter_xml(filter_to_xml(f), "x.xml");
  ASSERT_TRUE(again.ok()) << errors_text(again.errors);
  EXPECT_EQ(*again.filter, f);
}

TEST(FilterSerialize, EqualityIgnoresOnlyLocations) {
  Filter a = parse_ok("<filter name='x'>\n<rule action='drop' direction='in'/></filter>", "a");
  Filter b = parse_ok("<filter name='x'><rule action='drop' direction='in'/></filter>", "b");
  EXPECT_EQ(a, b);
  Filter c = parse_ok(
      "<filter name='x'><rule action='drop' direction='in' priority='500'/>"
      "</filter>");
  EXPECT_NE(a, c);  // priority given vs defaulted is kept
}

}  // namespace
}  // namespace vmgw::filter
