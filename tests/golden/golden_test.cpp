// Golden compiler tests: each folder under tests/golden holds a config.yaml and either
// expected.plan (what `vmgw plan` prints) or expected.errors (what `vmgw check` prints), and
// any nwfilter XML files its `filters:` list names (read relative to the folder).
// Regenerate after an intended change with: VMGW_UPDATE_GOLDEN=1 ./vmgw_golden_tests
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <variant>

#include "compile/compile.h"
#include "compile/plan_text.h"
#include "filter/builtins.h"
#include "filter/parse.h"
#include "model/load.h"

namespace fs = std::filesystem;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> cases() {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(VMGW_GOLDEN_DIR))
    if (e.is_directory() && fs::exists(e.path() / "config.yaml"))
      out.push_back(e.path().filename());
  std::sort(out.begin(), out.end());
  return out;
}

// The built-in filters plus those of the config's `filters:` files, read relative to the case
// folder as `vmgw plan` reads them relative to the config file (named as written, so that
// messages do not depend on where the tree is checked out).
vmgw::filter::FilterCatalog load_filters(const vmgw::Config& c, const fs::path& dir,
                                         vmgw::Diagnostics& errors) {
  vmgw::filter::FilterCatalog catalog = vmgw::filter::builtin_catalog();
  for (size_t i = 0; i < c.filter_files.size(); ++i) {
    fs::path p = c.filter_files[i];
    if (p.is_relative()) p = dir / p;
    if (!fs::is_regular_file(p)) {
      errors.push_back({{"config.yaml", 0, 0},
                        "filters[" + std::to_string(i) + "]",
                        "cannot read " + c.filter_files[i]});
      continue;
    }
    auto parsed = vmgw::filter::parse_filter_xml(read(p), c.filter_files[i]);
    if (!parsed.ok()) {
      errors.insert(errors.end(), parsed.errors.begin(), parsed.errors.end());
      continue;
    }
    catalog.add_or_replace(std::move(*parsed.filter));
  }
  return catalog;
}

// The output for one case: the plan text, or the located errors (one per line).
std::pair<std::string, std::string> run_case(const fs::path& dir) {
  auto result = vmgw::load_config(read(dir / "config.yaml"), "config.yaml");
  vmgw::Diagnostics errors;
  if (auto* v = std::get_if<vmgw::Validated<vmgw::Config>>(&result)) {
    auto catalog = load_filters(v->get(), dir, errors);
    auto filter_errors = vmgw::check_filters(v->get(), catalog);
    errors.insert(errors.end(), filter_errors.begin(), filter_errors.end());
    if (errors.empty()) return {"expected.plan", vmgw::plan_text(vmgw::compile(*v, catalog))};
  } else {
    errors = std::get<vmgw::Diagnostics>(result);
  }
  std::string text;
  for (const auto& d : errors) text += d.str() + "\n";
  return {"expected.errors", text};
}

class Golden : public ::testing::TestWithParam<std::string> {};

TEST_P(Golden, MatchesExpectedOutput) {
  const fs::path dir = fs::path(VMGW_GOLDEN_DIR) / GetParam();
  auto [name, actual] = run_case(dir);
  if (std::getenv("VMGW_UPDATE_GOLDEN")) {
    fs::remove(dir / "expected.plan");
    fs::remove(dir / "expected.errors");
    std::ofstream(dir / name) << actual;
    GTEST_SKIP() << "updated " << (dir / name);
  }
  ASSERT_TRUE(fs::exists(dir / name))
      << "missing " << (dir / name) << " (run with VMGW_UPDATE_GOLDEN=1 to create it)";
  EXPECT_EQ(read(dir / name), actual) << "in " << dir;
}

TEST_P(Golden, IsDeterministic) {
  const fs::path dir = fs::path(VMGW_GOLDEN_DIR) / GetParam();
  EXPECT_EQ(run_case(dir), run_case(dir));
}

INSTANTIATE_TEST_SUITE_P(Cases, Golden, ::testing::ValuesIn(cases()),
                         [](const ::testing::TestParamInfo<std::string>& p) {
                           std::string n = p.param;
                           std::replace(n.begin(), n.end(), '-', '_');
                           return n;
                         });

}  // namespace
