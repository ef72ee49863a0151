// ICMP names as nftables knows them: the plan must write what nft lists back, or the diff of
// a host.icmp rule would never settle.
#include "model/icmp.h"

#include <gtest/gtest.h>

namespace vmgw {
namespace {

TEST(Icmp, NamesAndNumbersGiveTheSameValue) {
  EXPECT_EQ(icmp_type_value("echo-request"), 8);
  EXPECT_EQ(icmp_type_value("8"), 8);
  EXPECT_EQ(icmp_type_value("address-mask-reply"), 18);
  EXPECT_EQ(icmp_code_value("frag-needed"), 4);
  EXPECT_EQ(icmp_code_value("13"), 13);
}

TEST(Icmp, AnythingElseIsRefused) {
  for (const char* bad : {"ping", "256", "-1", "", "8 ", "0x8", "echo_request"})
    EXPECT_FALSE(icmp_type_value(bad)) << bad;
  EXPECT_FALSE(icmp_code_value("needs-frag"));
}

TEST(Icmp, OnlyValuesNftNamesHaveANameInThePlan) {
  EXPECT_EQ(icmp_type_name(0), "echo-reply");
  EXPECT_EQ(icmp_type_name(11), "time-exceeded");
  EXPECT_FALSE(icmp_type_name(42));
  EXPECT_EQ(icmp_code_name(4), "frag-needed");
  EXPECT_FALSE(icmp_code_name(5));
}

}  // namespace
}  // namespace vmgw
