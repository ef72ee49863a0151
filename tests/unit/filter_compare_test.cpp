// Same content, written differently: libvirt's own filter files (tests/filter/libvirt, as
// libvirt ships them) against vmgw's built-ins, and the differences first_difference names.
#include <gtest/gtest.h>

#include <set>
#include <string>

#include "../filter/corpus.h"
#include "filter/builtins.h"
#include "filter/compare.h"
#include "filter/serialize.h"

namespace vmgw::filter {
namespace {

using testing::parse_ok;

// Issue 16: every filter file libvirt ships is accepted unchanged and says what vmgw's
// built-in of the same name says, so defining it over the built-in changes nothing.
TEST(FilterCompare, EveryLibvirtShippedFileIsItsBuiltin) {
  std::set<std::string> names;
  for (const auto& path : testing::xml_files(testing::corpus_dir() / "libvirt")) {
    SCOPED_TRACE(path.filename().string());
    auto r = parse_filter_xml(testing::read_text(path), path.string());
    ASSERT_TRUE(r.ok()) << testing::errors_text(r.errors);
    EXPECT_EQ(r.filter->name + ".xml", path.filename().string());
    const Filter* ours = shipped_builtin(r.filter->name);
    ASSERT_NE(ours, nullptr) << "not a built-in";
    EXPECT_EQ(first_difference(*r.filter, *ours), std::nullopt);
    EXPECT_EQ(first_difference(*ours, *r.filter), std::nullopt);
    EXPECT_FALSE(is_shipped_builtin(*r.filter)) << "read from a file, it is the operator's";
    names.insert(r.filter->name);
  }
  std::set<std::string> builtins;
  for (const auto& b : builtin_filters()) builtins.insert(std::string(b.name));
  EXPECT_EQ(names, builtins) << "tests/filter/libvirt holds one file per built-in";
  EXPECT_EQ(names.size(), 24U);
}

TEST(FilterCompare, ADumpxmlIsTheSameFilter) {
  for (const auto& b : builtin_filters()) {
    const Filter* f = shipped_builtin(b.name);
    ASSERT_NE(f, nullptr);
    EXPECT_TRUE(same_content(*f, parse_ok(filter_to_xml(*f)))) << b.name;
  }
}

TEST(FilterCompare, SpellingsOfOneMeaningAreTheSame) {
  const Filter a = parse_ok(R"(<filter name='x' chain='ipv4' priority='-700'>
    <uuid>5c6d49af-b071-6127-b4ec-6f8ed4b55335</uuid>
    <!-- a comment -->
    <rule action='accept' direction='out' priority='500' statematch='true'>
      <ip protocol='udp' srcipaddr='10.0.0.1' srcipmask='255.255.0.0' dscp='0x10'/>
    </rule>
    <rule action='accept' direction='out'>
      <ipv6 srcipaddr='FE80::' srcipmask='10'/>
    </rule>
    <rule action='drop' direction='out'>
      <mac srcmacaddr='52:54:00:AB:0:1' protocolid='ipv4'/>
    </rule>
  </filter>)");
  const Filter b = parse_ok(R"(<filter name='x' chain='ipv4'>
    <rule action='accept' direction='out'>
      <ip dscp='16' srcipmask='16' srcipaddr='10.0.0.1' protocol='17'/>
    </rule>
    <rule action='accept' direction='out'><ipv6 srcipaddr='fe80::' srcipmask='10'/></rule>
    <rule action='drop' direction='out'>
      <mac srcmacaddr='52:54:00:ab:00:01' protocolid='0x0800'/>
    </rule>
  </filter>)");
  EXPECT_EQ(first_difference(a, b), std::nullopt);
}

TEST(FilterCompare, TheFirstDifferenceIsNamed) {
  const std::string base =
      "<filter name='x'><rule action='accept' direction='out' priority='100'>"
      "<tcp dstportstart='80' srcipaddr='$IP'/></rule><filterref filter='allow-arp'/></filter>";
  const Filter a = parse_ok(base);
  auto differs = [&](const std::string& from, const std::string& to) {
    std::string x = base;
    x.replace(x.find(from), from.size(), to);
    return first_difference(parse_ok(x), a).value_or("(same)");
  };
  EXPECT_EQ(differs("priority='100'", "priority='200'"), "rule[1]: priority 200 instead of 100");
  EXPECT_EQ(differs("'80'", "'81'"), "rule[1]: dstportstart '81' instead of '80'");
  EXPECT_EQ(differs("$IP", "$IP[@1]"), "rule[1]: srcipaddr '$IP[@1]' instead of '$IP'");
  EXPECT_EQ(differs("$IP", "$IP[@0]"), "(same)");
  EXPECT_EQ(differs(" dstportstart='80'", ""), "rule[1]: no dstportstart where the other has '80'");
  EXPECT_EQ(differs("<tcp", "<tcp match='no'"), "rule[1]: match 'no' instead of 'yes'");
  EXPECT_EQ(differs("allow-arp", "allow-ipv4"),
            "filterref[1]: filter 'allow-ipv4' instead of 'allow-arp'");
  EXPECT_EQ(differs("<filterref filter='allow-arp'/>", ""),
            "entries (rules and filterrefs): 1 instead of 2");
  EXPECT_EQ(differs("name='x'", "name='x' priority='-100'"), "chain priority -100 instead of 0");
}

}  // namespace
}  // namespace vmgw::filter
