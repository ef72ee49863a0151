// The self-healing trigger: who committed an nftables transaction, read from its NEWGEN event.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>

#include <vector>

#include "backend/nft_monitor.h"

namespace vmgw::backend {
namespace {

std::vector<uint8_t> message(uint16_t subsys, uint16_t type, uint32_t pid, const char* name) {
  std::vector<uint8_t> buf(512);
  auto* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = static_cast<uint16_t>((subsys << 8) | type);
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = AF_UNSPEC;
  mnl_attr_put_u32(nlh, NFTA_GEN_ID, htonl(42));
  if (pid) mnl_attr_put_u32(nlh, NFTA_GEN_PROC_PID, htonl(pid));
  if (name) mnl_attr_put_strz(nlh, NFTA_GEN_PROC_NAME, name);
  buf.resize(nlh->nlmsg_len);
  return buf;
}

TEST(NftMonitor, NewGenNamesTheCommittingProcess) {
  auto c = decode_nft_generation(message(NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN, 4242, "nft"));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pid, 4242u);
  EXPECT_EQ(c->name, "nft");
}

TEST(NftMonitor, OtherMessagesAreNotGenerations) {
  EXPECT_FALSE(decode_nft_generation(message(NFNL_SUBSYS_NFTABLES, NFT_MSG_DELTABLE, 1, "nft")));
  EXPECT_FALSE(decode_nft_generation(message(NFNL_SUBSYS_ULOG, NFT_MSG_NEWGEN, 1, "nft")));
}

TEST(NftMonitor, TruncatedOrLyingLengthsAreRefused) {
  auto m = message(NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN, 7, "x");
  EXPECT_FALSE(decode_nft_generation(std::span(m).first(10)));
  auto lying = m;
  reinterpret_cast<nlmsghdr*>(lying.data())->nlmsg_len = 4096;
  EXPECT_FALSE(decode_nft_generation(lying));
}

TEST(NftMonitor, MissingProcessAttributesGiveAnUnknownChanger) {
  auto c = decode_nft_generation(message(NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN, 0, nullptr));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->pid, 0u);
  EXPECT_EQ(c->name, "");
}

}  // namespace
}  // namespace vmgw::backend
