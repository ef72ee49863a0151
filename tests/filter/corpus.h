// Helpers shared by the filter unit tests (tests/unit/filter_*_test.cpp): reading this corpus.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "filter/parse.h"

namespace vmgw::filter::testing {

inline std::filesystem::path corpus_dir() {
  return VMGW_FILTER_CORPUS;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The .xml files directly in `dir`, sorted.
inline std::vector<std::filesystem::path> xml_files(const std::filesystem::path& dir) {
  std::vector<std::filesystem::path> out;
  for (const auto& e : std::filesystem::directory_iterator(dir))
    if (e.is_regular_file() && e.path().extension() == ".xml") out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

inline std::string errors_text(const Diagnostics& d) {
  std::string out;
  for (const auto& e : d) out += e.str() + "\n";
  return out;
}

// Parses XML the test knows is valid; fails the test (and returns an empty filter) otherwise.
inline Filter parse_ok(const std::string& xml, const std::string& file = "test.xml") {
  auto r = parse_filter_xml(xml, file);
  EXPECT_TRUE(r.ok()) << errors_text(r.errors);
  return r.filter.value_or(Filter{});
}

}  // namespace vmgw::filter::testing
