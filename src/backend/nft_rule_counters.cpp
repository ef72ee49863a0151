#include "backend/nft_rule_counters.h"

#include <arpa/inet.h>
#include <endian.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace vmgw::backend {
namespace {

// libnftnl's rule user data: a sequence of (type: u8, length: u8, value) records; the comment
// is type 0 (NFTNL_UDATA_RULE_COMMENT), its value NUL-terminated.
constexpr uint8_t kUdataRuleComment = 0;
// libmnl's advice for dumps (MNL_SOCKET_DUMP_SIZE, newer than Debian 12's libmnl).
constexpr size_t kDumpBuffer = 32768;

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

// Calls fn(attribute) for each attribute in [from, to): C++ cannot use libmnl's iteration
// macros (they assign a void*).
template <class Fn>
void each_attr(const void* from, const void* to, Fn&& fn) {
  const char* end = static_cast<const char*>(to);
  for (const auto* a = static_cast<const nlattr*>(from);
       mnl_attr_ok(a, static_cast<int>(end - reinterpret_cast<const char*>(a)));
       a = mnl_attr_next(a))
    fn(a);
}

template <class Fn>
void each_nested(const nlattr* parent, Fn&& fn) {
  const char* payload = static_cast<const char*>(mnl_attr_get_payload(parent));
  each_attr(payload, payload + mnl_attr_get_payload_len(parent), fn);
}

uint64_t u64_be(const nlattr* a) {
  return be64toh(mnl_attr_get_u64(a));
}

// Adds the counter of one expression (NFTA_LIST_ELEM) to `r`, if it is a counter.
void add_expression(const nlattr* elem, RuleCounter& r) {
  const nlattr* name = nullptr;
  const nlattr* data = nullptr;
  each_nested(elem, [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == NFTA_EXPR_NAME && mnl_attr_validate(a, MNL_TYPE_NUL_STRING) == 0)
      name = a;
    if (mnl_attr_get_type(a) == NFTA_EXPR_DATA) data = a;
  });
  if (!name || std::strcmp(mnl_attr_get_str(name), "counter") != 0) return;
  r.has_counter = true;
  if (!data) return;
  each_nested(data, [&](const nlattr* a) {
    if (mnl_attr_validate(a, MNL_TYPE_U64) != 0) return;
    if (mnl_attr_get_type(a) == NFTA_COUNTER_PACKETS) r.packets += u64_be(a);
    if (mnl_attr_get_type(a) == NFTA_COUNTER_BYTES) r.bytes += u64_be(a);
  });
}

int on_rule(const nlmsghdr* nlh, void* data) {
  auto* out = static_cast<std::vector<RuleCounter>*>(data);
  const auto* bytes = reinterpret_cast<const uint8_t*>(nlh);
  if (auto r = decode_rule_counter({bytes, nlh->nlmsg_len})) out->push_back(std::move(*r));
  return MNL_CB_OK;
}

uint8_t family_number(const std::string& family) {
  if (family == "inet") return NFPROTO_INET;
  if (family == "ip") return NFPROTO_IPV4;
  if (family == "ip6") return NFPROTO_IPV6;
  if (family == "bridge") return NFPROTO_BRIDGE;
  if (family == "arp") return NFPROTO_ARP;
  if (family == "netdev") return NFPROTO_NETDEV;
  throw std::runtime_error("nftables rule counters: unknown family '" + family + "'");
}

}  // namespace

std::optional<RuleCounter> decode_rule_counter(std::span<const uint8_t> message) {
  if (message.size() < sizeof(nlmsghdr) + sizeof(nfgenmsg)) return std::nullopt;
  // A copy: the caller's bytes need not be aligned for nlmsghdr.
  std::vector<uint8_t> copy(message.begin(), message.end());
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(copy.data());
  if (nlh->nlmsg_len > copy.size() || nlh->nlmsg_len < sizeof(nlmsghdr) + sizeof(nfgenmsg) ||
      nlh->nlmsg_type != ((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_NEWRULE))
    return std::nullopt;
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

struct RuleCounterReader::Socket {
  Socket() {
    nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (!nl)
      throw std::runtime_error(std::string("nftables rule counters: socket: ") +
                               std::strerror(errno));
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
      const int e = errno;
      mnl_socket_close(nl);
      throw std::runtime_error(std::string("nftables rule counters: bind: ") + std::strerror(e));
    }
  }
  ~Socket() { mnl_socket_close(nl); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  mnl_socket* nl = nullptr;
  uint32_t seq = 0;
};

RuleCounterReader::RuleCounterReader() = default;
RuleCounterReader::~RuleCounterReader() = default;

std::vector<RuleCounter> RuleCounterReader::read(const std::string& family,
                                                 const std::string& table,
                                                 const std::string& chain) {
  const uint8_t number = family_number(family);
  // A dump the ruleset's change interrupted (EINTR) is asked again; a chain's rules are few.
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (!socket_) socket_ = std::make_unique<Socket>();
    std::vector<uint8_t> buf(kDumpBuffer);
    auto* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | NFT_MSG_GETRULE);
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++socket_->seq;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = number;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    mnl_attr_put_strz(nlh, NFTA_RULE_TABLE, table.c_str());
    mnl_attr_put_strz(nlh, NFTA_RULE_CHAIN, chain.c_str());
    const uint32_t seq = nlh->nlmsg_seq, port = mnl_socket_get_portid(socket_->nl);
    if (mnl_socket_sendto(socket_->nl, nlh, nlh->nlmsg_len) < 0) {
      const int e = errno;
      socket_.reset();
      throw std::runtime_error(std::string("nftables rule counters: send: ") + std::strerror(e));
    }
    std::vector<RuleCounter> out;
    int ret = MNL_CB_OK;
    while (ret > MNL_CB_STOP) {
      const ssize_t n = mnl_socket_recvfrom(socket_->nl, buf.data(), buf.size());
      if (n < 0) {
        ret = MNL_CB_ERROR;
        break;
      }
      ret = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, port, on_rule, &out);
    }
    if (ret == MNL_CB_STOP) return out;
    const int e = errno;
    if (e == ENOENT) return {};  // older kernels looked the table up
    socket_.reset();             // what is left of the answer goes with it
    if (e == EINTR) continue;
    throw std::runtime_error("nftables rule counters: reading chain " + family + " " + table + " " +
                             chain + ": " + std::strerror(e));
  }
  throw std::runtime_error("nftables rule counters: reading chain " + family + " " + table + " " +
                           chain + ": interrupted by ruleset changes three times");
}

}  // namespace vmgw::backend
