// The order `vmgw filter import` defines filters in: referenced filters first, so that a
// directory of libvirt's files (read in name order: clean-traffic before no-mac-spoofing) is
// defined without "unknown filter" refusals.
#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "../filter/corpus.h"
#include "filter/import.h"

namespace vmgw::filter {
namespace {

std::vector<std::string> origins(const std::vector<FilterSource>& s,
                                 const std::vector<std::size_t>& order) {
  std::vector<std::string> out;
  for (std::size_t i : order) out.push_back(s[i].origin);
  return out;
}

FilterSource refs(const std::string& name, const std::vector<std::string>& to) {
  std::string xml = "<filter name='" + name + "'>";
  for (const auto& t : to) xml += "<filterref filter='" + t + "'/>";
  return {name, xml + "</filter>"};
}

TEST(FilterImport, ReferencedFiltersComeFirst) {
  std::vector<FilterSource> s{refs("a", {"b", "c"}), refs("b", {"c", "allow-arp"}), refs("c", {}),
                              refs("d", {})};
  EXPECT_EQ(origins(s, definition_order(s)), (std::vector<std::string>{"c", "b", "a", "d"}));
}

TEST(FilterImport, LoopsAndBrokenDocumentsKeepTheirPlace) {
  std::vector<FilterSource> s{refs("a", {"b"}), {"bad.xml", "<filter"}, refs("b", {"a"})};
  // The loop is defined as met (vmgwd refuses the second with the loop spelled out).
  EXPECT_EQ(origins(s, definition_order(s)), (std::vector<std::string>{"b", "a", "bad.xml"}));
}

TEST(FilterImport, LibvirtsDirectoryInAWorkingOrder) {
  std::vector<FilterSource> s;
  for (const auto& p : testing::xml_files(testing::corpus_dir() / "libvirt"))
    s.push_back({p.stem().string(), testing::read_text(p)});
  auto order = definition_order(s);
  ASSERT_EQ(order.size(), 24U);
  std::map<std::string, std::size_t> at;
  for (std::size_t k = 0; k < order.size(); ++k) at[s[order[k]].origin] = k;
  for (const auto& [before, after] : std::vector<std::pair<std::string, std::string>>{
           {"no-mac-spoofing", "clean-traffic"},
           {"no-arp-spoofing", "clean-traffic"},
           {"no-arp-mac-spoofing", "no-arp-spoofing"},
           {"qemu-announce-self-rarp", "qemu-announce-self"},
           {"qemu-announce-self", "clean-traffic"},
           {"no-other-l2-traffic", "clean-traffic-gateway"}})
    EXPECT_LT(at[before], at[after]) << before << " before " << after;
}

}  // namespace
}  // namespace vmgw::filter
