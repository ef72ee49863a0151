// The nwfilter XML parser: the corpus in tests/filter (valid files parse, each invalid file gives
// the error its first line expects), plus targeted checks of the model and of error reports.
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "../filter/corpus.h"
#include "filter/attributes.h"
#include "filter/parse.h"
#include "filter/serialize.h"
#include "filter/values.h"

namespace vmgw::filter {
namespace {

using testing::corpus_dir;
using testing::errors_text;
using testing::parse_ok;
using testing::read_text;
using testing::xml_files;

const Rule& rule_at(const Filter& f, std::size_t i) {
  return std::get<Rule>(f.entries.at(i));
}

TEST(FilterCorpus, EveryValidFileParses) {
  auto files = xml_files(corpus_dir());
  ASSERT_GE(files.size(), 25U);
  std::set<std::string> names;
  for (const auto& p : files) {
    SCOPED_TRACE(p.filename().string());
    auto r = parse_filter_xml(read_text(p), p.string());
    EXPECT_TRUE(r.ok()) << errors_text(r.errors);
    ASSERT_TRUE(r.filter.has_value());
    EXPECT_TRUE(names.insert(r.filter->name).second) << "duplicate name " << r.filter->name;
  }
}

// Every invalid file starts with <!-- expect: LINE:COL: reason substring -->.
TEST(FilterCorpus, EveryInvalidFileGivesItsExpectedError) {
  auto files = xml_files(corpus_dir() / "invalid");
  ASSERT_GE(files.size(), 30U);
  for (const auto& p : files) {
    SCOPED_TRACE(p.filename().string());
    std::string xml = read_text(p);
    auto start = xml.find("<!-- expect: ");
    auto end = xml.find(" -->");
    ASSERT_EQ(start, 0U) << "first line must be the expectation";
    std::string expect = xml.substr(13, end - 13);
    auto c1 = expect.find(':'), c2 = expect.find(':', c1 + 1);
    int line = std::stoi(expect.substr(0, c1));
    int col = std::stoi(expect.substr(c1 + 1, c2 - c1 - 1));
    std::string reason = expect.substr(c2 + 2);

    auto r = parse_filter_xml(xml, p.string());
    EXPECT_FALSE(r.ok());
    EXPECT_FALSE(r.filter.has_value());
    bool found = false;
    for (const auto& e : r.errors)
      found = found || (e.where.line == line && e.where.column == col &&
                        e.reason.find(reason) != std::string::npos && e.where.file == p.string());
    EXPECT_TRUE(found) << "expected " << expect << "\ngot:\n" << errors_text(r.errors);
  }
}

// The corpus exercises every protocol element and every attribute of each.
TEST(FilterCorpus, CoversEveryProtocolAndAttribute) {
  std::map<Protocol, std::set<std::string>> seen;
  for (const auto& p : xml_files(corpus_dir())) {
    auto r = parse_filter_xml(read_text(p), p.string());
    if (!r.filter) continue;
    for (const auto& e : r.filter->entries)
      if (const auto* rule = std::get_if<Rule>(&e))
        for (const auto& m : rule->matches)
          for (const auto& [n, v] : m.attributes) seen[m.protocol].insert(n);
  }
  for (int i = 0; i <= static_cast<int>(Protocol::all_ipv6); ++i) {
    auto proto = static_cast<Protocol>(i);
    SCOPED_TRACE(std::string(to_string(proto)));
    EXPECT_TRUE(seen.contains(proto));
    for (const auto& a : attributes_of(proto))
      EXPECT_TRUE(seen[proto].contains(std::string(a.name))) << a.name;
  }
}

TEST(FilterParse, ModelKeepsWhatWasWritten) {
  Filter f = parse_ok(read_text(corpus_dir() / "arp.xml"), "arp.xml");
  EXPECT_EQ(f.name, "corpus-arp");
  EXPECT_EQ(f.chain, "arp");
  EXPECT_EQ(f.priority, -500);
  EXPECT_EQ(f.where.line, 1);
  EXPECT_EQ(f.file.path, "arp.xml");
  ASSERT_EQ(f.entries.size(), 6U);
  const Rule& r = rule_at(f, 3);
  EXPECT_EQ(r.action, Action::drop);
  EXPECT_EQ(r.direction, Direction::in);
  EXPECT_EQ(r.priority, 450);
  EXPECT_EQ(r.where.line, 11);
  ASSERT_EQ(r.matches.size(), 2U);  // two <arp> in one rule: a logical AND
  EXPECT_FALSE(r.matches[0].match.has_value());
  EXPECT_TRUE(r.matches[0].find("opcode")->match);
  EXPECT_TRUE(r.matches[1].negated());
  EXPECT_FALSE(r.matches[1].find("arpdstmacaddr")->match);
  const Rule& last = rule_at(f, 5);
  EXPECT_TRUE(last.matches.empty());
  EXPECT_EQ(last.effective_priority(), 1000);
}

TEST(FilterParse, DefaultsAreDerivedNotStored) {
  Filter f = parse_ok("<filter name='x'><rule action='accept' direction='in'/></filter>");
  EXPECT_FALSE(f.chain.has_value());
  EXPECT_EQ(f.effective_chain(), "root");
  EXPECT_FALSE(f.priority.has_value());
  EXPECT_EQ(f.effective_priority(), 0);
  const Rule& r = rule_at(f, 0);
  EXPECT_FALSE(r.priority.has_value());
  EXPECT_EQ(r.effective_priority(), 500);
  EXPECT_TRUE(r.effective_statematch());
  EXPECT_FALSE(r.logs());
}

TEST(FilterParse, ChainDefaultPriorities) {
  for (auto [chain, prio] : std::vector<std::pair<std::string, int>>{{"stp", -810},
                                                                     {"mac", -800},
                                                                     {"vlan", -750},
                                                                     {"ipv4", -700},
                                                                     {"ipv6", -600},
                                                                     {"arp", -500},
                                                                     {"rarp", -400},
                                                                     {"root", 0},
                                                                     {"ipv4-xyz", -700},
                                                                     {"arp-mac", -500}}) {
    Filter f = parse_ok("<filter name='x' chain='" + chain + "'/>");
    EXPECT_EQ(f.effective_priority(), prio) << chain;
  }
  EXPECT_EQ(parse_ok("<filter name='x' chain='ipv4' priority='5'/>").effective_priority(), 5);
}

TEST(FilterParse, VariablesAreTokens) {
  Filter f = parse_ok(read_text(corpus_dir() / "variables.xml"));
  const auto& ip = rule_at(f, 0).matches.at(0);
  ASSERT_TRUE(ip.find("srcipaddr")->var.has_value());
  EXPECT_EQ(*ip.find("srcipaddr")->var,
            (VariableRef{"SRCIPADDRESSES", VariableRef::Access::iterator, 1}));
  EXPECT_EQ(ip.find("dstportstart")->var->iterator_id(), 2U);
  EXPECT_FALSE(ip.find("protocol")->var.has_value());
  const auto& udp = rule_at(f, 1).matches.at(0);
  EXPECT_EQ(*udp.find("dstportstart")->var,
            (VariableRef{"DSTPORTS", VariableRef::Access::index, 1}));
  EXPECT_EQ(udp.find("srcipaddr")->var->name, "GATEWAYIP");
  const auto& tcp = rule_at(f, 2).matches.at(0);
  EXPECT_EQ(tcp.find("dstportstart")->var->access, VariableRef::Access::plain);
  EXPECT_EQ(tcp.find("dstportstart")->var->iterator_id(), 0U);
  EXPECT_EQ(tcp.find("dstportend")->var->str(), "$PORTS_END[0]");
}

TEST(FilterParse, VariableSyntax) {
  std::string err;
  EXPECT_FALSE(parse_variable_ref("10.0.0.1", err).has_value());
  EXPECT_TRUE(err.empty());
  for (const char* bad :
       {"$", "$1A", "$A[", "$A[]", "$A[@]", "$A[x]", "$A-B", "$A[1]x", "$A[-1]"}) {
    EXPECT_FALSE(parse_variable_ref(bad, err).has_value()) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
  auto v = parse_variable_ref("$_x9[@12]", err);
  ASSERT_TRUE(v);
  EXPECT_EQ(v->str(), "$_x9[@12]");
}

// Issue 16: libvirt (virNWFilterVarAccessParse) skips blanks after '[', after '@' and before
// ']'; its iter-test3 has blanks after ']' too. $X[@0] is $X. Each is written back in one
// spelling, libvirt's.
TEST(FilterParse, VariableSyntaxAsLibvirtReadsIt) {
  const std::vector<std::pair<const char*, const char*>> cases = {
      {"$A[ 0]", "$A[0]"},        {"$A[1 ]", "$A[1]"},   {"$A[ 1 ] ", "$A[1]"},
      {"$B[ @0 ]", "$B"},         {"$B[  @0 ] ", "$B"},  {"$B[@0]", "$B"},
      {"$B[ @2 ]", "$B[@2]"},     {"$B[@ 2]", "$B[@2]"}, {"$C[\t2\t]", "$C[2]"},
      {"$X[@1000]", "$X[@1000]"}, {"$X[007]", "$X[7]"},
  };
  for (const auto& [text, written] : cases) {
    std::string err;
    auto v = parse_variable_ref(text, err);
    ASSERT_TRUE(v) << text << ": " << err;
    EXPECT_EQ(v->str(), written) << text;
  }
  std::string err;
  auto zero = parse_variable_ref("$B[ @0 ]", err);
  ASSERT_TRUE(zero);
  EXPECT_EQ(zero->access, VariableRef::Access::plain);  // the same reference as $B
  // Still refused: a blank before '[' (libvirt: "Malformatted variable"), text after ']',
  // blanks inside the number, iterator ids above libvirt's 1000.
  for (const char* bad : {"$A [0]", "$A[0] x", "$A[1 2]", "$A[@ ]", "$X[@1001]"}) {
    EXPECT_FALSE(parse_variable_ref(bad, err).has_value()) << bad;
    EXPECT_FALSE(err.empty()) << bad;
  }
}

TEST(FilterParse, BlanksInBracketsAreWrittenBackWithout) {
  Filter f = parse_ok(
      "<filter name='x'><rule action='accept' direction='out'>"
      "<tcp srcipaddr='$A[ 0]' srcportstart='$B[  @0 ] ' dstportstart='$C[ @2 ]'/>"
      "</rule></filter>");
  EXPECT_EQ(filter_to_xml(f),
            "<filter name='x'>\n"
            "  <rule action='accept' direction='out'>\n"
            "    <tcp srcipaddr='$A[0]' srcportstart='$B' dstportstart='$C[@2]'/>\n"
            "  </rule>\n"
            "</filter>\n");
}

TEST(FilterParse, MatchNoNegatesAllButMasks) {
  Filter f = parse_ok(
      "<filter name='x'><rule action='drop' direction='out'>"
      "<ip match='no' srcipaddr='10.0.0.0' srcipmask='8' protocol='tcp'/></rule></filter>");
  const auto& m = rule_at(f, 0).matches.at(0);
  EXPECT_FALSE(m.find("srcipaddr")->match);
  EXPECT_TRUE(m.find("srcipmask")->match);
  EXPECT_FALSE(m.find("protocol")->match);
}

TEST(FilterParse, AttributeOrderIsKept) {
  Filter f = parse_ok(
      "<filter name='x'><rule action='accept' direction='in'>"
      "<tcp dstportstart='80' srcipaddr='$IP' comment='c'/></rule></filter>");
  const auto& attrs = rule_at(f, 0).matches.at(0).attributes;
  ASSERT_EQ(attrs.size(), 3U);
  EXPECT_EQ(attrs[0].first, "dstportstart");
  EXPECT_EQ(attrs[1].first, "srcipaddr");
  EXPECT_EQ(attrs[2].first, "comment");
}

TEST(FilterParse, CommentsAreNeverVariables) {
  Filter f = parse_ok(
      "<filter name='x'><rule action='accept' direction='in'>"
      "<tcp comment='$not a var'/></rule></filter>");
  EXPECT_FALSE(rule_at(f, 0).matches.at(0).find("comment")->var.has_value());
}

TEST(FilterParse, LogExtensionAndStatematch) {
  Filter f = parse_ok(read_text(corpus_dir() / "tcp.xml"));
  EXPECT_EQ(rule_at(f, 0).statematch, false);
  EXPECT_FALSE(rule_at(f, 0).effective_statematch());
  EXPECT_TRUE(rule_at(f, 2).logs());
  EXPECT_EQ(rule_at(f, 2).action, Action::reject);
}

TEST(FilterParse, FilterRefParametersInOrder) {
  Filter f = parse_ok(read_text(corpus_dir() / "filterref.xml"));
  ASSERT_EQ(f.entries.size(), 5U);
  const auto& ref = std::get<FilterRef>(f.entries[2]);
  EXPECT_EQ(ref.filter, "corpus-arp");
  ASSERT_EQ(ref.parameters.size(), 3U);
  EXPECT_EQ(ref.parameters[0], (Parameter{"IP", "10.0.0.1"}));
  EXPECT_EQ(ref.parameters[1], (Parameter{"IP", "10.0.0.2"}));
  EXPECT_TRUE(std::holds_alternative<Rule>(f.entries[1]));
  EXPECT_TRUE(std::get<FilterRef>(f.entries[0]).parameters.empty());
}

TEST(FilterParse, EntitiesAndUuidWhitespace) {
  Filter f = parse_ok(read_text(corpus_dir() / "misc.xml"));
  EXPECT_EQ(f.uuid, "00112233445566778899aabbccddeeff");
  EXPECT_EQ(rule_at(f, 0).matches.at(0).find("comment")->raw, "quotes ' \" & <tag> and\na newline");
  EXPECT_EQ(rule_at(f, 0).action, Action::return_);
  EXPECT_EQ(rule_at(f, 0).statematch, false);
  EXPECT_EQ(rule_at(f, 1).action, Action::continue_);
  EXPECT_EQ(rule_at(f, 1).log, false);
}

TEST(FilterParse, CollectsAllErrorsWithPaths) {
  auto r = parse_filter_xml(
      "<filter name='web' chain='bogus' colour='red'>\n"
      "  <rule action='accept' direction='in'>\n"
      "    <tcp dstportstart='80'/>\n"
      "  </rule>\n"
      "  <rule action='accept' direction='sideways'>\n"
      "    <tcp dstportstart='70000' srcportstrat='1'/>\n"
      "  </rule>\n"
      "  <filterref/>\n"
      "</filter>\n",
      "web.xml");
  ASSERT_FALSE(r.ok());
  std::vector<std::string> got;
  for (const auto& e : r.errors) got.push_back(e.str());
  std::vector<std::string> want{
      "web.xml:1: filter[name=web]@chain: invalid chain 'bogus': use 'root' or a name starting "
      "with mac, stp, vlan, arp, rarp, ipv4 or ipv6",
      "web.xml:1: filter[name=web]@colour: unknown attribute 'colour' of <filter>",
      "web.xml:5: filter[name=web]/rule[2]@direction: bad direction 'sideways' (one of in, out, "
      "inout)",
      "web.xml:6: filter[name=web]/rule[2]/tcp@dstportstart: '70000' is out of range 0-65535",
      "web.xml:6: filter[name=web]/rule[2]/tcp@srcportstrat: unknown attribute 'srcportstrat' "
      "for <tcp> (did you mean 'srcportstart'?)",
      "web.xml:8: filter[name=web]/filterref[1]: filterref has no filter attribute",
  };
  EXPECT_EQ(got, want);
}

// Found by the fuzzer: a long priority overflowed while being read.
TEST(FilterParse, HugePriorityIsAnErrorNotOverflow) {
  auto r = parse_filter_xml(
      "<filter name='x'><rule action='drop' direction='in' priority='-5555555555555555555555'/>"
      "</filter>",
      "p.xml");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].reason, "'-5555555555555555555555' is not an integer priority");
  r = parse_filter_xml("<filter name='x' priority='12a'/>", "p.xml");
  ASSERT_EQ(r.errors.size(), 1U);
  EXPECT_EQ(r.errors[0].path, "filter[name=x]@priority");
}

TEST(FilterParse, SyntaxErrorHasLineAndColumn) {
  auto r = parse_filter_xml("<filter name='x'>\n  <rule action='accept' direction='in'>\n</filter>",
                            "s.xml");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.errors[0].where.line, 3);
  EXPECT_GT(r.errors[0].where.column, 0);
  EXPECT_NE(r.errors[0].reason.find("XML syntax"), std::string::npos);
}

TEST(FilterParse, HostileInputIsRefused) {
  // Billion laughs: refused as a DOCTYPE without expanding anything.
  std::string laughs =
      "<!DOCTYPE filter [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>"
      "<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;'>]><filter name='&c;'/>";
  auto r = parse_filter_xml(laughs, "l.xml");
  EXPECT_FALSE(r.ok());
  // External entity over the network: never fetched.
  r = parse_filter_xml("<!DOCTYPE filter SYSTEM 'http://127.0.0.1:1/x.dtd'><filter name='x'/>",
                       "n.xml");
  EXPECT_FALSE(r.ok());
  r = parse_filter_xml(std::string(kMaxFilterXmlBytes + 1, ' '), "big.xml");
  EXPECT_FALSE(r.ok());
  r = parse_filter_xml("", "empty.xml");
  EXPECT_FALSE(r.ok());
  r = parse_filter_xml(std::string("<filter name='a\0b'/>", 20), "nul.xml");
  EXPECT_FALSE(r.ok());
}

TEST(FilterParse, ValueTypes) {
  AttrSpec u16{"p", ValueType::uint, 0, 0xffff};
  EXPECT_EQ(check_literal(u16, "0x10"), "");
  EXPECT_EQ(check_literal(u16, "65535"), "");
  EXPECT_NE(check_literal(u16, "65536"), "");
  EXPECT_NE(check_literal(u16, "-1"), "");
  EXPECT_NE(check_literal(u16, "0x"), "");
  EXPECT_NE(check_literal(u16, "99999999999999999999999"), "");
  AttrSpec nohex{"c", ValueType::uint, 0, 0xffff, false};
  EXPECT_NE(check_literal(nohex, "0x10"), "");
  AttrSpec m4{"m", ValueType::ipv4_mask};
  EXPECT_EQ(check_literal(m4, "0"), "");
  EXPECT_EQ(check_literal(m4, "32"), "");
  EXPECT_NE(check_literal(m4, "33"), "");
  EXPECT_EQ(check_literal(m4, "255.255.248.0"), "");
  AttrSpec m6{"m", ValueType::ipv6_mask};
  EXPECT_EQ(check_literal(m6, "128"), "");
  EXPECT_NE(check_literal(m6, "129"), "");
  EXPECT_NE(check_literal(m6, "ffff::ffff"), "");
  AttrSpec mac{"m", ValueType::mac_addr};
  EXPECT_EQ(check_literal(mac, "52:54:0:a:BB:cc"), "");
  EXPECT_NE(check_literal(mac, "52:54:00:aa:bb"), "");
  EXPECT_NE(check_literal(mac, "52-54-00-aa-bb-cc"), "");
  AttrSpec flags{"f", ValueType::tcp_flags};
  EXPECT_EQ(check_literal(flags, "SYN,ACK/SYN"), "");
  EXPECT_EQ(check_literal(flags, "ALL/NONE"), "");
  EXPECT_NE(check_literal(flags, "SYN"), "");
  EXPECT_NE(check_literal(flags, "SYN/ACK/FIN"), "");
  AttrSpec ipf{"f", ValueType::ipset_flags};
  EXPECT_EQ(check_literal(ipf, "src,dst,src,dst,src,dst"), "");
  EXPECT_NE(check_literal(ipf, "src,dst,src,dst,src,dst,src"), "");
  AttrSpec b{"b", ValueType::boolean};
  for (const char* ok : {"true", "yes", "1", "false", "no", "0"})
    EXPECT_EQ(check_literal(b, ok), "");
  EXPECT_NE(check_literal(b, "on"), "");
}

TEST(FilterParse, ChainNames) {
  for (const char* ok : {"root", "mac", "stp-x", "vlan_1", "arp.a:b-c", "ipv6", "rarpx"})
    EXPECT_TRUE(chain_prefix(ok).has_value()) << ok;
  std::string why;
  for (const char* bad : {"", "root-x", "tcp", "ipv4 x", "ipv4-123456789", "ipv4/x"}) {
    EXPECT_FALSE(chain_prefix(bad, &why).has_value()) << bad;
    EXPECT_FALSE(why.empty());
  }
}

}  // namespace
}  // namespace vmgw::filter
