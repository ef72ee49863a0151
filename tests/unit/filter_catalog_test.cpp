// FilterCatalog: defining, replacing and removing filters; unknown references and loops.
#include <gtest/gtest.h>

#include "../filter/corpus.h"
#include "filter/catalog.h"
#include "filter/parse.h"

namespace vmgw::filter {
namespace {

using testing::corpus_dir;
using testing::errors_text;
using testing::parse_ok;
using testing::read_text;
using testing::xml_files;

Filter refs(const std::string& name, const std::vector<std::string>& targets) {
  std::string xml = "<filter name='" + name + "'>\n";
  for (const auto& t : targets) xml += "  <filterref filter='" + t + "'/>\n";
  return parse_ok(xml + "</filter>", name + ".xml");
}

std::vector<std::string> reasons(const Diagnostics& d) {
  std::vector<std::string> out;
  for (const auto& e : d) out.push_back(e.reason);
  return out;
}

TEST(FilterCatalog, CorpusTreeResolves) {
  FilterCatalog c;
  for (const auto& p : xml_files(corpus_dir()))
    EXPECT_FALSE(c.add_or_replace(parse_ok(read_text(p), p.string())));
  EXPECT_EQ(c.size(), xml_files(corpus_dir()).size());
  EXPECT_TRUE(c.check_references("corpus-clean").empty())
      << errors_text(c.check_references("corpus-clean"));
  EXPECT_TRUE(c.check_all().empty());
  EXPECT_EQ(c.users_of("corpus-arp"), std::vector<std::string>{"corpus-clean"});
  EXPECT_TRUE(c.users_of("corpus-clean").empty());
}

TEST(FilterCatalog, AddReplaceRemoveLookup) {
  FilterCatalog c;
  EXPECT_FALSE(c.add_or_replace(refs("a", {})));
  EXPECT_TRUE(c.add_or_replace(refs("a", {"b"})));
  ASSERT_NE(c.lookup("a"), nullptr);
  EXPECT_EQ(c.lookup("a")->entries.size(), 1U);
  EXPECT_EQ(c.lookup("zz"), nullptr);
  EXPECT_EQ(c.names(), std::vector<std::string>{"a"});
  EXPECT_TRUE(c.remove("a"));
  EXPECT_FALSE(c.remove("a"));
  EXPECT_EQ(c.size(), 0U);
}

TEST(FilterCatalog, UnknownReferenceNamesTheChain) {
  FilterCatalog c;
  c.add_or_replace(refs("top", {"mid"}));
  c.add_or_replace(refs("mid", {"ok", "missing"}));
  c.add_or_replace(refs("ok", {}));
  auto d = c.check_references("top");
  ASSERT_EQ(d.size(), 1U) << errors_text(d);
  EXPECT_EQ(d[0].reason, "unknown filter 'missing' (top -> mid -> missing)");
  EXPECT_EQ(d[0].path, "filter[name=mid]/filterref[2]");
  EXPECT_EQ(d[0].where.file, "mid.xml");
  EXPECT_EQ(d[0].where.line, 3);
  EXPECT_EQ(reasons(c.check_references("nope")), std::vector<std::string>{"unknown filter 'nope'"});
}

TEST(FilterCatalog, LoopsAreReportedWithTheirPath) {
  FilterCatalog c;
  c.add_or_replace(refs("a", {"b"}));
  c.add_or_replace(refs("b", {"a"}));
  EXPECT_EQ(reasons(c.check_references("a")), std::vector<std::string>{"loop: a -> b -> a"});
  EXPECT_EQ(reasons(c.check_references("b")), std::vector<std::string>{"loop: b -> a -> b"});
  c.add_or_replace(refs("self", {"self"}));
  EXPECT_EQ(reasons(c.check_references("self")), std::vector<std::string>{"loop: self -> self"});
  c.add_or_replace(refs("entry", {"x"}));
  c.add_or_replace(refs("x", {"y"}));
  c.add_or_replace(refs("y", {"z"}));
  c.add_or_replace(refs("z", {"x"}));
  EXPECT_EQ(reasons(c.check_references("entry")),
            std::vector<std::string>{"loop: x -> y -> z -> x"});
  EXPECT_EQ(c.check_all().size(), 3U) << errors_text(c.check_all());
}

TEST(FilterCatalog, DiamondIsNotALoop) {
  FilterCatalog c;
  c.add_or_replace(refs("top", {"l", "r"}));
  c.add_or_replace(refs("l", {"base"}));
  c.add_or_replace(refs("r", {"base"}));
  c.add_or_replace(refs("base", {}));
  EXPECT_TRUE(c.check_references("top").empty()) << errors_text(c.check_references("top"));
  EXPECT_EQ(c.users_of("base"), (std::vector<std::string>{"l", "r"}));
}

TEST(FilterCatalog, ReplacingCanBreakOrFixTheTree) {
  FilterCatalog c;
  c.add_or_replace(refs("a", {"b"}));
  c.add_or_replace(refs("b", {}));
  EXPECT_TRUE(c.check_references("a").empty());
  c.add_or_replace(refs("b", {"a"}));
  EXPECT_EQ(c.check_references("a").size(), 1U);
  c.remove("b");
  EXPECT_EQ(reasons(c.check_references("a")),
            std::vector<std::string>{"unknown filter 'b' (a -> b)"});
}

}  // namespace
}  // namespace vmgw::filter
