// List variables expanded exactly as libvirt expands them (issue 16). One table: each row is a
// rule, the values of its variables, and the rules libvirt makes of it, in libvirt's order, or
// libvirt's refusal. The rows are the cases of libvirt's documentation (formatnwfilter,
// "Usage of variables in filters") and the rules of its iter1..iter3 firewall tests
// (tests/nwfilterxml2firewalldata, whose expected output lists the rules made), with libvirt's
// test values: A = 1.1.1.1 2.2.2.2 3.3.3.3 3.3.3.3, B = 80 90 80 80, C = 1080 1090 1100 1110.
#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

#include "../filter/corpus.h"
#include "filter/builtins.h"
#include "filter/instantiate.h"
#include "filter/iterate.h"

namespace vmgw::filter {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;
using Strings = std::vector<std::string>;

const Params kLibvirtTestValues = {{"A", "1.1.1.1"}, {"A", "2.2.2.2"}, {"A", "3.3.3.3"},
                                   {"A", "3.3.3.3"}, {"B", "80"},      {"B", "90"},
                                   {"B", "80"},      {"B", "80"},      {"C", "1080"},
                                   {"C", "1090"},    {"C", "1100"},    {"C", "1110"}};

struct Case {
  const char* what;
  const char* element;  // the rule's protocol element
  Params params;
  Strings attrs;     // the attributes whose values each expected rule lists, joined by '|'
  Strings expected;  // the rules, in order; empty when `error` is set
  const char* error = nullptr;
};

const std::vector<Case> kCases = {
    // --- libvirt's documentation ---
    {"doc: a list variable gives one rule per value",
     "<tcp srcipaddr='$IP'/>",
     {{"IP", "10.0.0.1"}, {"IP", "10.0.0.2"}, {"IP", "10.0.0.3"}},
     {"srcipaddr"},
     {"10.0.0.1", "10.0.0.2", "10.0.0.3"}},
    {"doc: $DSTPORTS[1] is the second element",
     "<udp dstportstart='$DSTPORTS[1]'/>",
     {{"DSTPORTS", "53"}, {"DSTPORTS", "5353"}},
     {"dstportstart"},
     {"5353"}},
    {"doc: two iterators give all combinations",
     "<tcp srcipaddr='$SRCIPADDRESSES[@1]' dstportstart='$DSTPORTS[@2]'/>",
     {{"SRCIPADDRESSES", "10.0.0.1"},
      {"SRCIPADDRESSES", "11.1.2.3"},
      {"DSTPORTS", "80"},
      {"DSTPORTS", "8080"}},
     {"srcipaddr", "dstportstart"},
     {"10.0.0.1|80", "11.1.2.3|80", "10.0.0.1|8080", "11.1.2.3|8080"}},
    {"doc: one iterator walks the lists in parallel",
     "<tcp srcipaddr='$SRCIPADDRESSES[@1]' dstportstart='$DSTPORTS[@1]'/>",
     {{"SRCIPADDRESSES", "10.0.0.1"},
      {"SRCIPADDRESSES", "11.1.2.3"},
      {"DSTPORTS", "80"},
      {"DSTPORTS", "8080"}},
     {"srcipaddr", "dstportstart"},
     {"10.0.0.1|80", "11.1.2.3|8080"}},
    {"doc: $X is short-hand for $X[@0]",
     "<tcp srcipaddr='$SRC' dstportstart='$PORTS[@0]'/>",
     {{"SRC", "10.0.0.1"}, {"SRC", "11.1.2.3"}, {"PORTS", "80"}, {"PORTS", "8080"}},
     {"srcipaddr", "dstportstart"},
     {"10.0.0.1|80", "11.1.2.3|8080"}},

    // --- issue 16: plain $A and $B move together ---
    {"issue 16: plain $A and $B make 2 rules, not 4",
     "<tcp dstipaddr='$A' dstportstart='$B'/>",
     {{"A", "10.0.0.1"}, {"A", "10.0.0.2"}, {"B", "80"}, {"B", "8080"}},
     {"dstipaddr", "dstportstart"},
     {"10.0.0.1|80", "10.0.0.2|8080"}},

    // --- libvirt's iter1..iter3 tests ---
    {"iter1: $A and $B in parallel; the 4th pair repeats the 3rd and is skipped",
     "<tcp srcipaddr='$A' srcportstart='$B' dscp='2'/>",
     kLibvirtTestValues,
     {"srcipaddr", "srcportstart"},
     {"1.1.1.1|80", "2.2.2.2|90", "3.3.3.3|80"}},
    {"iter2 rule 1: $A with $B[@0] is the same",
     "<tcp srcipaddr='$A' srcportstart='$B[@0]' dscp='1'/>",
     kLibvirtTestValues,
     {"srcipaddr", "srcportstart"},
     {"1.1.1.1|80", "2.2.2.2|90", "3.3.3.3|80"}},
    {"iter2 rule 2: [@1] x [@2], each iterator without its repeated values",
     "<udp srcipaddr='$A[@1]' srcportstart='$B[@2]' dscp='2'/>",
     kLibvirtTestValues,
     {"srcipaddr", "srcportstart"},
     {"1.1.1.1|80", "2.2.2.2|80", "3.3.3.3|80", "1.1.1.1|90", "2.2.2.2|90", "3.3.3.3|90"}},
    {"iter2 rule 3: $B[@2] and $C[@2] in parallel, combined with $A[@1]",
     "<sctp srcipaddr='$A[@1]' srcportstart='$B[@2]' dstportstart='$C[@2]' dscp='3'/>",
     kLibvirtTestValues,
     {"srcipaddr", "srcportstart", "dstportstart"},
     {"1.1.1.1|80|1080", "2.2.2.2|80|1080", "3.3.3.3|80|1080", "1.1.1.1|90|1090", "2.2.2.2|90|1090",
      "3.3.3.3|90|1090", "1.1.1.1|80|1100", "2.2.2.2|80|1100", "3.3.3.3|80|1100", "1.1.1.1|80|1110",
      "2.2.2.2|80|1110", "3.3.3.3|80|1110"}},
    {"iter2 rule 5: one variable under two iterators",
     "<udp srcipaddr='$A[@1]' dstipaddr='$A[@2]' dscp='5'/>",
     kLibvirtTestValues,
     {"srcipaddr", "dstipaddr"},
     {"1.1.1.1|1.1.1.1", "2.2.2.2|1.1.1.1", "3.3.3.3|1.1.1.1", "1.1.1.1|2.2.2.2", "2.2.2.2|2.2.2.2",
      "3.3.3.3|2.2.2.2", "1.1.1.1|3.3.3.3", "2.2.2.2|3.3.3.3", "3.3.3.3|3.3.3.3"}},
    {"iter2 rule 6: one variable twice, plainly, takes one value at a time",
     "<sctp srcipaddr='$A' dstipaddr='$A' dscp='6'/>",
     kLibvirtTestValues,
     {"srcipaddr", "dstipaddr"},
     {"1.1.1.1|1.1.1.1", "2.2.2.2|2.2.2.2", "3.3.3.3|3.3.3.3"}},
    {"iter3 rule 1: blanks in brackets; a fixed element with an iterator",
     "<tcp srcipaddr='$A[ 0]' srcportstart='$B[  @0 ] ' dscp='1'/>",
     kLibvirtTestValues,
     {"srcipaddr", "srcportstart"},
     {"1.1.1.1|80", "1.1.1.1|90"}},
    {"iter3 rule 2",
     "<udp srcipaddr='$A[1 ]' srcportstart='$B[ @2 ]' dscp='2'/>",
     kLibvirtTestValues,
     {"srcipaddr", "srcportstart"},
     {"2.2.2.2|80", "2.2.2.2|90"}},
    {"iter3 rule 3: fixed elements only make one rule",
     "<sctp srcipaddr='$A[ 1 ] ' srcportstart='$B[2 ] ' dstportstart='$C[ 2 ]' dscp='3'/>",
     kLibvirtTestValues,
     {"srcipaddr", "srcportstart", "dstportstart"},
     {"2.2.2.2|80|1100"}},

    // --- what libvirt refuses ---
    {"lists under one iterator must have as many values",
     "<tcp srcipaddr='$A[@1]' dstportstart='$P[@1]'/>",
     {{"A", "10.0.0.1"}, {"A", "10.0.0.2"}, {"P", "80"}, {"P", "443"}, {"P", "8080"}},
     {},
     {},
     "$P (3 values) and $A (2 values) are walked together by iterator @1"},
    {"a plain list and a plain single value are walked together too",
     "<tcp srcipaddr='$A' dstipaddr='$GW'/>",
     {{"A", "10.0.0.1"}, {"A", "10.0.0.2"}, {"GW", "10.0.0.254"}},
     {},
     {},
     "$GW (1 value) and $A (2 values) are walked together plainly (iterator @0)"},
    {"a single value used as $GW[0] beside a plain list",
     "<tcp srcipaddr='$A' dstipaddr='$GW[0]'/>",
     {{"A", "10.0.0.1"}, {"A", "10.0.0.2"}, {"GW", "10.0.0.254"}},
     {"srcipaddr", "dstipaddr"},
     {"10.0.0.1|10.0.0.254", "10.0.0.2|10.0.0.254"}},
    {"a fixed element past the end",
     "<tcp srcipaddr='$A[4]'/>",
     kLibvirtTestValues,
     {},
     {},
     "$A[4]: index out of range ($A has 4 values)"},
};

std::string rule_values(const ConcreteRule& r, const Strings& attrs) {
  std::string out;
  for (const auto& a : attrs) {
    const Attr* v = r.find(a);
    out += (out.empty() ? "" : "|") + (v ? v->value : std::string("-"));
  }
  return out;
}

TEST(FilterIterate, ExpandsListVariablesAsLibvirtDoes) {
  for (const auto& c : kCases) {
    SCOPED_TRACE(c.what);
    FilterCatalog cat = builtin_catalog();
    cat.add_or_replace(testing::parse_ok(
        std::string("<filter name='f' chain='root'><rule action='accept' direction='out'>") +
            c.element + "</rule></filter>",
        "test.xml"));
    auto inst = instantiate(cat, {{"f", c.params}}, {}, "vm 'v'");
    if (c.error) {
      ASSERT_FALSE(inst.ok());
      EXPECT_NE(testing::errors_text(inst.errors).find(c.error), std::string::npos)
          << testing::errors_text(inst.errors);
      continue;
    }
    ASSERT_TRUE(inst.ok()) << testing::errors_text(inst.errors);
    Strings got;
    for (const auto& r : inst.program.rules) got.push_back(rule_values(r, c.attrs));
    EXPECT_EQ(got, c.expected);
  }
}

// iter2 rule 4: three iterators, 3 x 2 x 4 rules.
TEST(FilterIterate, DistinctIteratorsMultiply) {
  std::vector<std::string> a{"1.1.1.1", "2.2.2.2", "3.3.3.3", "3.3.3.3"}, b{"80", "90", "80", "80"},
      c{"1080", "1090", "1100", "1110"};
  std::vector<ListRef> refs{{{"A", VariableRef::Access::iterator, 1}, &a},
                            {{"B", VariableRef::Access::iterator, 2}, &b},
                            {{"C", VariableRef::Access::iterator, 3}, &c}};
  Iteration it = iterate(refs);
  ASSERT_TRUE(it.errors.empty());
  EXPECT_EQ(it.count(), 24U);
  EXPECT_EQ(it.pick(0), (std::vector<std::size_t>{0, 0, 0}));
  EXPECT_EQ(it.pick(3), (std::vector<std::size_t>{0, 1, 0}));   // A wraps, B steps to 90
  EXPECT_EQ(it.pick(6), (std::vector<std::size_t>{0, 0, 1}));   // B wraps (80 again is skipped)
  EXPECT_EQ(it.pick(23), (std::vector<std::size_t>{2, 1, 3}));  // the last: 3.3.3.3, 90, 1110
}

TEST(FilterIterate, NoReferencesMakeOneRule) {
  Iteration it = iterate({});
  EXPECT_EQ(it.count(), 1U);
  EXPECT_TRUE(it.pick(0).empty());
}

TEST(FilterIterate, CountSaturatesInsteadOfOverflowing) {
  std::vector<std::string> many;
  for (int i = 0; i < 1000; ++i) many.push_back(std::to_string(i));
  std::vector<ListRef> refs;
  for (uint32_t id = 1; id <= 8; ++id)
    refs.push_back({{"X", VariableRef::Access::iterator, id}, &many});  // 1000^8 > 2^64
  EXPECT_EQ(iterate(refs).count(), SIZE_MAX);
}

}  // namespace
}  // namespace vmgw::filter
