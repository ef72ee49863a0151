#include "backend/nft_rule_counters.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

#include "backend/nft_dump.h"

namespace vmgw::backend {
namespace {

// libnftnl's rule user data: a sequence of (type: u8, length: u8, value) records; the comment
// is type 0 (NFTNL_UDATA_RULE_COMMENT), its value NUL-terminated.
constexpr uint8_t kUdataRuleComment = 0;

std::string comment_of(const nlattr* userdata) {
  const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(userdata));
  const size_t len = mnl_attr_get_payload_len(userdata);
  for (size_t at = 0; at + 2 <= len;) {
    const uint8_t type = p[at], size = p[at + 1];
    if (at + 2 + size > len) break;
    if (type == kUdataRuleComment) {
      const char* text = reinterpret_cast<const char*>(p + at + 2);
      return std::string(text, strnlen(text, size));
    }
    at += 2 + size;
  }
  return "";
}

// NFTA_IMMEDIATE_DATA -> NFTA_DATA_VERDICT: the chain of a jump or goto, "" for other verdicts.
std::string jump_target(const nlattr* immediate_data) {
  std::string target;
  each_nested(immediate_data, [&](const nlattr* d) {
    if (mnl_attr_get_type(d) != NFTA_DATA_VERDICT) return;
    std::optional<int32_t> code;
    std::string chain;
    each_nested(d, [&](const nlattr* v) {
      if (mnl_attr_get_type(v) == NFTA_VERDICT_CODE && mnl_attr_validate(v, MNL_TYPE_U32) == 0)
        code = static_cast<int32_t>(ntohl(mnl_attr_get_u32(v)));
      if (mnl_attr_get_type(v) == NFTA_VERDICT_CHAIN &&
          mnl_attr_validate(v, MNL_TYPE_NUL_STRING) == 0)
        chain = mnl_attr_get_str(v);
    });
    if (code && (*code == NFT_JUMP || *code == NFT_GOTO)) target = chain;
  });
  return target;
}

// Adds what one expression (NFTA_LIST_ELEM) tells to `r`: a counter's counts, a jump's target,
// a lookup's set.
void add_expression(const nlattr* elem, RuleCounter& r) {
  const nlattr* name = nullptr;
  const nlattr* data = nullptr;
  each_nested(elem, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == NFTA_EXPR_NAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
      name = a;
    if (mnl_attr_get_type(a) == NFTA_EXPR_DATA) data = a;
  });
  if (!name || !data) {
    if (name && std::strcmp(mnl_attr_get_str(name), "counter") == 0) r.has_counter = true;
    return;
  }
  const std::string kind = mnl_attr_get_str(name);
  if (kind == "immediate") {
    each_nested(data, [&](const nlattr* a) {
      if (mnl_attr_get_type(a) != NFTA_IMMEDIATE_DATA) return;
      if (auto target = jump_target(a); !target.empty()) r.jumps.push_back(target);
    });
    return;
  }
  if (kind == "lookup") {
    each_nested(data, [&](const nlattr* a) {
      if (mnl_attr_get_type(a) == NFTA_LOOKUP_SET && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
        r.lookups.emplace_back(mnl_attr_get_str(a));
    });
    return;
  }
  if (kind != "counter") return;
  r.has_counter = true;
  add_counter_data(data, r.packets, r.bytes);
}

}  // namespace

std::optional<RuleCounter> decode_rule_counter(std::span<const uint8_t> message) {
  auto copy = nftables_message(message);
  if (!copy) return std::nullopt;
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(copy->data());
  if (NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWRULE) return std::nullopt;
  RuleCounter r;
  each_attr(mnl_nlmsg_get_payload_offset(nlh, sizeof(nfgenmsg)), mnl_nlmsg_get_payload_tail(nlh),
            [&](const nlattr* a) {
              if (mnl_attr_get_type(a) == NFTA_RULE_USERDATA) r.comment = comment_of(a);
              if (mnl_attr_get_type(a) == NFTA_RULE_EXPRESSIONS)
                each_nested(a, [&](const nlattr* elem) {
                  if (mnl_attr_get_type(elem) == NFTA_LIST_ELEM) add_expression(elem, r);
                });
            });
  return r;
}

std::vector<RuleCounter> RuleCounterReader::read(const std::string& family,
                                                 const std::string& table,
                                                 const std::string& chain) {
  std::vector<RuleCounter> out;
  dump_.run(
      "reading chain " + family + " " + table + " " + chain, NFT_MSG_GETRULE, family,
      [&](nlmsghdr* nlh) {
        mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table.c_str());
        mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain.c_str());
      },
      [&] { out.clear(); },
      [&](const nlmsghdr* nlh) {
        const auto* bytes = reinterpret_cast<const uint8_t*>(nlh);
        if (auto r = decode_rule_counter({bytes, nlh->nlmsg_len})) out.push_back(std::move(*r));
      });
  return out;
}

}  // namespace vmgw::backend
