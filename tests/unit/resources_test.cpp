#include "daemon/resources.h"

#include <gtest/gtest.h>

namespace vmgw::daemon {
namespace {

TEST(ApiBodies, UnknownFieldsAreRefusedWithASuggestion) {
  FieldErrors errors;
  EXPECT_FALSE(
      known_fields_only(Json{{"public", "203.0.113.2:80"}, {"prot", "udp"}, {"to", "w:80"}},
                        {"public", "proto", "to"}, errors));
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, "prot");
  EXPECT_EQ(errors[0].second, "unknown field 'prot'; did you mean 'proto'?");
  errors.clear();
  EXPECT_TRUE(known_fields_only(Json::object(), {"vm"}, errors));
  EXPECT_TRUE(errors.empty());
}

TEST(ApiBodies, AMisspeltForwardProtoIsNotSilentlyTcp) {
  FieldErrors errors;
  auto f = parse_forward_request(
      Json{{"public", "203.0.113.2:5353"}, {"prot", "udp"}, {"to", "web:53"}}, errors);
  EXPECT_FALSE(f.has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, "prot");
}

TEST(ApiBodies, VmAndBindingFieldsAreChecked) {
  FieldErrors errors;
  EXPECT_FALSE(parse_vm_request(Json{{"name", "web"},
                                     {"network", "vmnet"},
                                     {"mac", "52:54:00:00:00:0a"},
                                     {"filters", Json::array({{{"filter", "clean-traffic"},
                                                               {"parms", Json::object()}}})}},
                                errors)
                   .has_value());
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].first, "filters[0].parms");
  EXPECT_EQ(errors[0].second, "unknown field 'parms'; did you mean 'params'?");
}

TEST(ApiBodies, OptionalStringsOfTheWrongTypeAreErrorsNotExceptions) {
  FieldErrors errors;
  EXPECT_EQ(optional_string(Json{{"state", 3}}, "state", "new", errors), "new");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0], std::make_pair(std::string("state"), std::string("must be a string")));
  EXPECT_EQ(optional_string(Json{{"state", "related"}}, "state", "new", errors), "related");
  EXPECT_EQ(optional_string(Json::object(), "state", "new", errors), "new");
  EXPECT_EQ(errors.size(), 1u);
}

}  // namespace
}  // namespace vmgw::daemon
