#include "backend/nft_monitor.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <optional>
#include <stdexcept>

namespace vmgw::backend {
namespace {

struct GenAttrs {
  const nlattr* tb[NFTA_GEN_MAX + 1] = {};
};

int gen_attr(const nlattr* attr, void* data) {
  auto* g = static_cast<GenAttrs*>(data);
  int type = mnl_attr_get_type(attr);
  if (mnl_attr_type_valid(attr, NFTA_GEN_MAX) < 0) return MNL_CB_OK;
  g->tb[type] = attr;
  return MNL_CB_OK;
}

class Monitor : public NftMonitor {
 public:
  Monitor() {
    nl_ = mnl_socket_open2(NETLINK_NETFILTER, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (!nl_) throw std::runtime_error(std::string("nftables events: socket: ") + strerror(errno));
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
      int e = errno;
      mnl_socket_close(nl_);
      throw std::runtime_error(std::string("nftables events: bind: ") + strerror(e));
    }
    int group = NFNLGRP_NFTABLES;
    if (mnl_socket_setsockopt(nl_, NETLINK_ADD_MEMBERSHIP, &group, sizeof group) < 0) {
      int e = errno;
      mnl_socket_close(nl_);
      throw std::runtime_error(std::string("nftables events: join group (needs CAP_NET_ADMIN): ") +
                               strerror(e));
    }
  }
  ~Monitor() override { mnl_socket_close(nl_); }
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  int fd() const override { return mnl_socket_get_fd(nl_); }

  std::vector<NftChanger> foreign_changes(uint32_t self_pid) override {
    std::vector<NftChanger> out;
    std::vector<uint8_t> buf(MNL_SOCKET_BUFFER_SIZE * 4);
    for (int i = 0; i < 1024; ++i) {  // bounded: a flood of events cannot stall the daemon
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        if (errno == ENOBUFS) {  // events were lost: assume someone else changed something
          out.push_back({0, "unknown (events lost)"});
          continue;
        }
        break;  // EAGAIN: nothing more
      }
      const auto* nlh = reinterpret_cast<const nlmsghdr*>(buf.data());
      int len = static_cast<int>(n);
      for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len)) {
        auto c = decode_nft_generation(
            {reinterpret_cast<const uint8_t*>(nlh), static_cast<size_t>(nlh->nlmsg_len)});
        if (c && c->pid != self_pid) out.push_back(*c);
      }
    }
    return out;
  }

 private:
  mnl_socket* nl_ = nullptr;
};

}  // namespace

std::optional<NftChanger> decode_nft_generation(std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof(nlmsghdr) + sizeof(nfgenmsg)) return std::nullopt;
  // Copy: the caller's bytes need not be aligned for nlmsghdr.
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(copy.data());
  if (nlh->nlmsg_len > copy.size() || nlh->nlmsg_len < sizeof(nlmsghdr) + sizeof(nfgenmsg))
    return std::nullopt;
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES ||
      NFNL_MSG_TYPE(nlh->nlmsg_type) != NFT_MSG_NEWGEN)
    return std::nullopt;
  GenAttrs g;
  mnl_attr_parse(nlh, sizeof(nfgenmsg), gen_attr, &g);
  NftChanger c;
  if (g.tb[NFTA_GEN_PROC_PID] && mnl_attr_validate(g.tb[NFTA_GEN_PROC_PID], MNL_TYPE_U32) == 0)
    c.pid = ntohl(mnl_attr_get_u32(g.tb[NFTA_GEN_PROC_PID]));
  if (g.tb[NFTA_GEN_PROC_NAME] && mnl_attr_validate(g.tb[NFTA_GEN_PROC_NAME], MNL_TYPE_STRING) == 0)
    c.name = mnl_attr_get_str(g.tb[NFTA_GEN_PROC_NAME]);
  return c;
}

std::unique_ptr<NftMonitor> open_nft_monitor() {
  return std::make_unique<Monitor>();
}

}  // namespace vmgw::backend
