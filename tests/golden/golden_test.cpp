// Golden compiler tests: each folder under tests/golden holds a config.yaml and either
// expected.plan (what `vmgw plan` prints) or expected.errors (what `vmgw check` prints).
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

// The output for one case: the plan text, or the located errors (one per line).
std::pair<std::string, std::string> run_case(const fs::path& dir) {
  auto result = vmgw::load_config(read(dir / "config.yaml"), "config.yaml");
  if (auto* v = std::get_if<vmgw::Validated<vmgw::Config>>(&result)) {
    return {"expected.plan", vmgw::plan_text(vmgw::compile(*v))};
  }
  const auto& errors = std::get<vmgw::Diagnostics>(result);
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
