// libFuzzer target for the YAML config: parse + validate never crash or leak on any input, and
// whatever validates compiles deterministically (same input, byte-identical plan).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <variant>

#include "compile/compile.h"
#include "compile/plan_text.h"
#include "model/load.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  auto result = vmgw::load_config(yaml, "fuzz.yaml");
  if (auto* errors = std::get_if<vmgw::Diagnostics>(&result)) {
    if (errors->empty()) std::abort();  // invalid input must say why
    for (const auto& e : *errors) (void)e.str();
    return 0;
  }
  const auto& config = std::get<vmgw::Validated<vmgw::Config>>(result);
  // Compiling the largest valid configs (65536 forwarded ports) takes over a minute and 600 MB
  // under ASan; the fuzzer looks for crashes in small inputs, so those are only validated.
  uint64_t ports = 0;
  for (const auto& f : config->port_forwards) ports += f.public_ports->size();
  if (ports > 4096) return 0;
  if (vmgw::plan_text(vmgw::compile(config)) != vmgw::plan_text(vmgw::compile(config)))
    std::abort();
  return 0;
}
