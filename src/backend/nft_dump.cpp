#include "backend/nft_dump.h"

#include <endian.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <vector>

namespace vmgw::backend {
namespace {

// libmnl's advice for dumps (MNL_SOCKET_DUMP_SIZE, newer than Debian 12's libmnl).
constexpr size_t kDumpBuffer = 32768;

int on_message(const nlmsghdr* nlh, void* data) {
  (*static_cast<const std::function<void(const nlmsghdr*)>*>(data))(nlh);
  return MNL_CB_OK;
}

}  // namespace

std::optional<std::vector<uint8_t>> nftables_message(std::span<const uint8_t> bytes) {
  if (bytes.size() < sizeof(nlmsghdr) + sizeof(nfgenmsg)) return std::nullopt;
  std::vector<uint8_t> copy(bytes.begin(), bytes.end());
  const auto* nlh = reinterpret_cast<const nlmsghdr*>(copy.data());
  if (nlh->nlmsg_len > copy.size() || nlh->nlmsg_len < sizeof(nlmsghdr) + sizeof(nfgenmsg))
    return std::nullopt;
  if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_NFTABLES) return std::nullopt;
  return copy;
}

void add_counter_data(const nlattr* data, uint64_t& packets, uint64_t& bytes) {
  each_nested(data, [&](const nlattr* a) {
    if (mnl_attr_validate(a, MNL_TYPE_U64) != 0) return;
    if (mnl_attr_get_type(a) == NFTA_COUNTER_PACKETS) packets += be64toh(mnl_attr_get_u64(a));
    if (mnl_attr_get_type(a) == NFTA_COUNTER_BYTES) bytes += be64toh(mnl_attr_get_u64(a));
  });
}

uint8_t nft_family_number(const std::string& family) {
  if (family == "inet") return NFPROTO_INET;
  if (family == "ip") return NFPROTO_IPV4;
  if (family == "ip6") return NFPROTO_IPV6;
  if (family == "bridge") return NFPROTO_BRIDGE;
  if (family == "arp") return NFPROTO_ARP;
  if (family == "netdev") return NFPROTO_NETDEV;
  throw std::runtime_error("nftables: unknown family '" + family + "'");
}

struct NftDump::Socket {
  Socket() {
    nl = mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC);
    if (!nl)
      throw std::runtime_error(std::string("nftables dump: socket: ") + std::strerror(errno));
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) {
      const int e = errno;
      mnl_socket_close(nl);
      throw std::runtime_error(std::string("nftables dump: bind: ") + std::strerror(e));
    }
  }
  ~Socket() { mnl_socket_close(nl); }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  mnl_socket* nl = nullptr;
  uint32_t seq = 0;
};

NftDump::NftDump() = default;
NftDump::~NftDump() = default;

void NftDump::run(const std::string& what, uint16_t type, const std::string& family,
                  const std::function<void(nlmsghdr*)>& put, const std::function<void()>& restart,
                  const std::function<void(const nlmsghdr*)>& each) {
  const uint8_t number = nft_family_number(family);
  for (int attempt = 0; attempt < 3; ++attempt) {
    if (attempt > 0) restart();
    if (!socket_) socket_ = std::make_unique<Socket>();
    std::vector<uint8_t> buf(kDumpBuffer);
    auto* nlh = mnl_nlmsg_put_header(buf.data());
    nlh->nlmsg_type = static_cast<uint16_t>((NFNL_SUBSYS_NFTABLES << 8) | type);
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    nlh->nlmsg_seq = ++socket_->seq;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = number;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = 0;
    put(nlh);
    const uint32_t seq = nlh->nlmsg_seq, port = mnl_socket_get_portid(socket_->nl);
    if (mnl_socket_sendto(socket_->nl, nlh, nlh->nlmsg_len) < 0) {
      const int e = errno;
      socket_.reset();
      throw std::runtime_error("nftables: " + what + ": send: " + std::strerror(e));
    }
    int ret = MNL_CB_OK;
    while (ret > MNL_CB_STOP) {
      const ssize_t n = mnl_socket_recvfrom(socket_->nl, buf.data(), buf.size());
      if (n < 0) {
        ret = MNL_CB_ERROR;
        break;
      }
      // mnl_cb_run passes a non-const pointer through; on_message only reads it.
      ret = mnl_cb_run(buf.data(), static_cast<size_t>(n), seq, port, on_message,
                       const_cast<void*>(static_cast<const void*>(&each)));
    }
    if (ret == MNL_CB_STOP) return;
    const int e = errno;
    if (e == ENOENT) return;  // the kernel's error ends the answer
    socket_.reset();          // what is left of the answer goes with it
    if (e == EINTR) continue;
    throw std::runtime_error("nftables: " + what + ": " + std::strerror(e));
  }
  throw std::runtime_error("nftables: " + what + ": interrupted by ruleset changes three times");
}

}  // namespace vmgw::backend
