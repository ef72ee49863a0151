// libFuzzer target: parse_filter_xml on arbitrary bytes. Besides crashes and sanitizer reports it
// checks the dumpxml invariant (abort() on violation): a filter that parses serializes into XML
// that parses back to an equal filter and serializes to the same text.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "filter/parse.h"
#include "filter/serialize.h"

namespace {

void check(bool ok) {
  if (!ok) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string xml(reinterpret_cast<const char*>(data), size);
  auto first = vmgw::filter::parse_filter_xml(xml, "fuzz.xml");
  check(first.ok() == first.filter.has_value());
  for (const auto& e : first.errors) check(!e.reason.empty());
  if (!first.ok()) return 0;

  std::string dumped = vmgw::filter::filter_to_xml(*first.filter);
  auto second = vmgw::filter::parse_filter_xml(dumped, "dump.xml");
  check(second.ok());
  check(*second.filter == *first.filter);
  check(vmgw::filter::filter_to_xml(*second.filter) == dumped);
  return 0;
}
