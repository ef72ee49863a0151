// The self-healing trigger: who committed an nftables transaction, read from its NEWGEN event.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
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

std::vector<uint8_t> object(uint16_t type, uint8_t family, const char* table) {
  std::vector<uint8_t> buf(512);
  auto* nlh = mnl_nlmsg_put_header(buf.data());
  nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type);
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  nfg->nfgen_family = family;
  mnl_attr_put_strz(nlh, 1, table);  // NFTA_RULE_TABLE, NFTA_CHAIN_TABLE, ...
  buf.resize(nlh->nlmsg_len);
  return buf;
}

TEST(NftMonitor, ObjectEventsNameTheirTable) {
  auto e = decode_nft_event(object(NFT_MSG_DELRULE, NFPROTO_BRIDGE, "vmgw"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->kind, NftEvent::Kind::object);
  EXPECT_EQ(e->family, NFPROTO_BRIDGE);
  EXPECT_EQ(e->table, "vmgw");
  auto g = decode_nft_event(message(NFNL_SUBSYS_NFTABLES, NFT_MSG_NEWGEN, 9, "nft"));
  ASSERT_TRUE(g);
  EXPECT_EQ(g->kind, NftEvent::Kind::generation);
  EXPECT_EQ(g->generation, 42u);
}

NftEvent gen(uint32_t g, uint32_t pid, const char* name = "nft") {
  return {NftEvent::Kind::generation, g, {pid, name}, 0, ""};
}
NftEvent obj(uint8_t family, const char* table) {
  return {NftEvent::Kind::object, 0, {}, family, table};
}

TEST(ForeignChanges, OnlyOtherProgramsChangesOfVmgwTablesCount) {
  ForeignChanges f(100);
  f.event(obj(NFPROTO_INET, "vmgw"));
  f.event(gen(5, 100, "vmgwd"));  // ours
  f.event(obj(NFPROTO_IPV4, "filter"));
  f.event(gen(6, 200, "iptables-nft"));  // another program's own table
  f.event(obj(NFPROTO_INET, "docker"));
  f.event(gen(7, 200));
  EXPECT_TRUE(f.take().empty());
  f.event(obj(NFPROTO_BRIDGE, "vmgw"));
  f.event(gen(8, 300, "nft"));
  EXPECT_EQ(f.take(), (std::vector<NftChanger>{{300, "nft"}}));
}

TEST(ForeignChanges, LostEventsOfOurOwnTransactionsAreNotAChange) {
  ForeignChanges f(100);
  f.lost(10u);                     // the start
  EXPECT_EQ(f.take().size(), 1u);  // nothing known before it
  f.own_transaction(10, 11);
  f.own_transaction(11, 12);
  f.lost(12u);  // a big batch of ours overran the socket
  EXPECT_TRUE(f.take().empty());
  // A trailing event of the generation already judged is not counted again.
  f.event(obj(NFPROTO_INET, "vmgw"));
  f.event(gen(12, 300));
  EXPECT_TRUE(f.take().empty());
  // Another program committed in between: lost events may have been its.
  f.own_transaction(12, 14);
  f.lost(14u);
  EXPECT_EQ(f.take().size(), 1u);
  f.lost(std::nullopt);  // the generation could not be read
  EXPECT_EQ(f.take().size(), 1u);
}

}  // namespace
}  // namespace vmgw::backend
