// NFLOG over a NETLINK_NETFILTER socket (libmnl). See nflog.h.
#include "backend/nflog.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libmnl/libmnl.h>
#include <linux/if_arp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <sys/socket.h>
#include <time.h>

#include <array>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>

namespace vmgw::backend {
namespace {

constexpr uint16_t kPacketType = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET;
constexpr uint16_t kConfigType = (NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_CONFIG;
// Enough for the IP header, IPv6 extension headers and the transport header.
constexpr uint32_t kCopyRange = 128;
// The kernel holds logged packets back until its batch fills or this flush timer (1/100 s)
// expires; its default of 1 s makes a followed log feel laggy.
constexpr uint32_t kFlushTimeout = 10;
// Socket receive buffer: room for bursts while the daemon is busy elsewhere.
constexpr int kSocketBuffer = 4 * 1024 * 1024;
// One recv: larger than any batch the kernel builds (NLMSG_GOODSIZE by default).
constexpr size_t kDatagram = size_t{64} * 1024;
// Datagrams per read_ready(): bounds the time one call may take under a flood.
constexpr int kMaxDatagrams = 256;

template <class T>
std::optional<T> attr_value(const nlattr* a) {
  if (a == nullptr || mnl_attr_get_payload_len(a) < sizeof(T)) return std::nullopt;
  T v;
  std::memcpy(&v, mnl_attr_get_payload(a), sizeof v);
  return v;
}

uint32_t ifindex(const nlattr* a) {
  auto v = attr_value<uint32_t>(a);  // __be32
  return v ? ntohl(*v) : 0;
}

int collect(const nlattr* attr, void* data) {
  auto* tb = static_cast<std::array<const nlattr*, NFULA_MAX + 1>*>(data);
  uint16_t type = mnl_attr_get_type(attr);
  if (type <= NFULA_MAX) (*tb)[type] = attr;
  return MNL_CB_OK;
}

std::optional<Mac> source_mac(const std::array<const nlattr*, NFULA_MAX + 1>& tb) {
  Mac mac;
  if (auto hw = attr_value<nfulnl_msg_packet_hw>(tb[NFULA_HWADDR]);
      hw && ntohs(hw->hw_addrlen) == mac.bytes.size()) {
    std::memcpy(mac.bytes.data(), hw->hw_addr, mac.bytes.size());
    return mac;
  }
  // An Ethernet header is destination, source, EtherType.
  auto hwtype = attr_value<uint16_t>(tb[NFULA_HWTYPE]);
  const nlattr* header = tb[NFULA_HWHEADER];
  if (hwtype && ntohs(*hwtype) == ARPHRD_ETHER && header != nullptr &&
      mnl_attr_get_payload_len(header) >= 14) {
    std::memcpy(mac.bytes.data(), static_cast<const uint8_t*>(mnl_attr_get_payload(header)) + 6,
                mac.bytes.size());
    return mac;
  }
  return std::nullopt;
}

std::optional<LoggedPacket> decode_aligned(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != kPacketType || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg)))
    return std::nullopt;
  std::array<const nlattr*, NFULA_MAX + 1> tb{};
  if (mnl_attr_parse(nlh, sizeof(nfgenmsg), collect, &tb) < 0) return std::nullopt;
  LoggedPacket p;
  if (auto hdr = attr_value<nfulnl_msg_packet_hdr>(tb[NFULA_PACKET_HDR]))
    p.hw_protocol = ntohs(hdr->hw_protocol);
  if (auto ts = attr_value<nfulnl_msg_packet_timestamp>(tb[NFULA_TIMESTAMP])) {
    uint64_t sec = be64toh(ts->sec), usec = be64toh(ts->usec);
    constexpr uint64_t kMaxSec = std::numeric_limits<int64_t>::max() / 1'000'000'000 - 1;
    if (sec <= kMaxSec && usec < 1'000'000)
      p.time_ns = static_cast<int64_t>(sec * 1'000'000'000 + usec * 1000);
  }
  if (const nlattr* a = tb[NFULA_PREFIX]) {
    const char* s = static_cast<const char*>(mnl_attr_get_payload(a));
    p.prefix.assign(s, strnlen(s, mnl_attr_get_payload_len(a)));
  }
  p.indev = ifindex(tb[NFULA_IFINDEX_INDEV]);
  p.outdev = ifindex(tb[NFULA_IFINDEX_OUTDEV]);
  p.physindev = ifindex(tb[NFULA_IFINDEX_PHYSINDEV]);
  p.physoutdev = ifindex(tb[NFULA_IFINDEX_PHYSOUTDEV]);
  p.src_mac = source_mac(tb);
  if (const nlattr* a = tb[NFULA_PAYLOAD]) {
    const auto* d = static_cast<const uint8_t*>(mnl_attr_get_payload(a));
    p.payload.assign(d, d + mnl_attr_get_payload_len(a));
  }
  return p;
}

uint16_t be16(std::span<const uint8_t> b, size_t at) {
  return static_cast<uint16_t>((b[at] << 8) | b[at + 1]);
}

std::string proto_name(uint8_t proto) {
  switch (proto) {
    case IPPROTO_TCP:
      return "tcp";
    case IPPROTO_UDP:
      return "udp";
    case IPPROTO_ICMP:
      return "icmp";
    case IPPROTO_ICMPV6:
      return "icmpv6";
    default:
      return std::to_string(proto);
  }
}

// Fills in the ports or ICMP type from the transport header `l4`, if it is all there.
FiveTuple with_transport(FiveTuple t, uint8_t proto, std::span<const uint8_t> l4) {
  t.proto = proto_name(proto);
  if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && l4.size() >= 4) {
    t.sport = be16(l4, 0);
    t.dport = be16(l4, 2);
  } else if ((proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) && !l4.empty()) {
    t.icmp_type = l4[0];
  }
  return t;
}

std::optional<FiveTuple> ipv4_tuple(std::span<const uint8_t> b) {
  if (b.size() < 20) return std::nullopt;
  size_t ihl = size_t{b[0] & 0x0fU} * 4;
  if (ihl < 20) return std::nullopt;
  FiveTuple t;
  auto addr = [&](size_t at) {
    return Ipv4{uint32_t{b[at]} << 24 | uint32_t{b[at + 1]} << 16 | uint32_t{b[at + 2]} << 8 |
                b[at + 3]}
        .str();
  };
  t.src = addr(12);
  t.dst = addr(16);
  // Only the first fragment carries the transport header.
  bool first_fragment = (be16(b, 6) & 0x1fffU) == 0;
  bool complete = b.size() >= ihl;
  return with_transport(std::move(t), b[9],
                        first_fragment && complete ? b.subspan(ihl) : std::span<const uint8_t>{});
}

std::optional<FiveTuple> ipv6_tuple(std::span<const uint8_t> b) {
  if (b.size() < 40) return std::nullopt;
  FiveTuple t;
  char text[INET6_ADDRSTRLEN];
  t.src = inet_ntop(AF_INET6, b.data() + 8, text, sizeof text);
  t.dst = inet_ntop(AF_INET6, b.data() + 24, text, sizeof text);
  // Walk the extension headers to the transport header; a cut-off chain leaves no ports.
  uint8_t next = b[6];
  size_t at = 40;
  for (int hops = 0; hops < 8; ++hops) {
    size_t len = 0;
    if (next == IPPROTO_HOPOPTS || next == IPPROTO_ROUTING || next == IPPROTO_DSTOPTS) {
      if (b.size() < at + 2) return with_transport(std::move(t), next, {});
      len = (size_t{b[at + 1]} + 1) * 8;
    } else if (next == IPPROTO_AH) {
      if (b.size() < at + 2) return with_transport(std::move(t), next, {});
      len = (size_t{b[at + 1]} + 2) * 4;
    } else if (next == IPPROTO_FRAGMENT) {
      if (b.size() < at + 8) return with_transport(std::move(t), next, {});
      if ((be16(b, at + 2) & 0xfff8U) != 0) return with_transport(std::move(t), b[at], {});
      len = 8;
    } else {
      break;
    }
    next = b[at];
    at += len;
  }
  return with_transport(std::move(t), next,
                        at <= b.size() ? b.subspan(at) : std::span<const uint8_t>{});
}

[[noreturn]] void fail(uint16_t group, const std::string& what, int err) {
  throw std::runtime_error("NFLOG group " + std::to_string(group) + ": " + what + ": " +
                           std::strerror(err));
}

class MnlNflog : public NflogSource {
 public:
  explicit MnlNflog(uint16_t group) : group_(group), nl_(nullptr, mnl_socket_close) {
    nl_.reset(mnl_socket_open2(NETLINK_NETFILTER, SOCK_CLOEXEC));
    if (!nl_) fail(group_, "open netlink socket", errno);
    if (mnl_socket_bind(nl_.get(), 0, MNL_SOCKET_AUTOPID) < 0)
      fail(group_, "bind netlink socket", errno);
    // SO_RCVBUFFORCE passes the rmem_max limit (root); otherwise take what SO_RCVBUF allows.
    int fd = mnl_socket_get_fd(nl_.get());
    int size = kSocketBuffer;
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) < 0)
      setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    configure();
    if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0)
      fail(group_, "set non-blocking", errno);
  }

  int fd() const override { return mnl_socket_get_fd(nl_.get()); }
  uint64_t overruns() const override { return overruns_; }

  std::vector<LoggedPacket> read_ready() override {
    std::vector<LoggedPacket> out = std::move(pending_);
    pending_.clear();
    for (int i = 0; i < kMaxDatagrams; ++i) {
      ssize_t n = recv(fd(), buf_.data(), buf_.size(), MSG_DONTWAIT);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == ENOBUFS) {  // the kernel dropped packets; the socket stays usable
          ++overruns_;
          continue;
        }
        fail(group_, "receive", errno);
      }
      if (n == 0) break;
      take_packets(static_cast<size_t>(n), out);
    }
    return out;
  }

 private:
  // Binds the group and sets copy mode and flush timer in one message (the kernel applies the
  // command first, then the settings), then waits for its acknowledgement.
  void configure() {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf_.data());
    nlh->nlmsg_type = kConfigType;
    nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
    nlh->nlmsg_seq = seq_ = static_cast<uint32_t>(time(nullptr));
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = AF_UNSPEC;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(group_);
    nfulnl_msg_config_cmd cmd{NFULNL_CFG_CMD_BIND};
    mnl_attr_put(nlh, NFULA_CFG_CMD, sizeof cmd, &cmd);
    nfulnl_msg_config_mode mode{};
    mode.copy_range = htonl(kCopyRange);
    mode.copy_mode = NFULNL_COPY_PACKET;
    mnl_attr_put(nlh, NFULA_CFG_MODE, sizeof mode, &mode);
    mnl_attr_put_u32(nlh, NFULA_CFG_TIMEOUT, htonl(kFlushTimeout));
    if (mnl_socket_sendto(nl_.get(), nlh, nlh->nlmsg_len) < 0)
      fail(group_, "send bind request", errno);
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(nl_.get(), buf_.data(), buf_.size());
      if (n < 0) {
        if (errno == EINTR || errno == ENOBUFS) continue;
        fail(group_, "receive bind acknowledgement", errno);
      }
      if (int err = take_packets(static_cast<size_t>(n), pending_); err >= 0) {
        if (err == EPERM)
          fail(group_, "bind (needs CAP_NET_ADMIN; or another socket holds the group)", err);
        if (err != 0) fail(group_, "bind", err);
        return;
      }
    }
  }

  // Decodes the packets of one datagram into `out`. Returns the errno of the acknowledgement
  // of our request (0 for success) if the datagram held it, else -1.
  int take_packets(size_t size, std::vector<LoggedPacket>& out) {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    int ack = -1;
    int left = static_cast<int>(size);
    for (const auto* nlh = static_cast<const nlmsghdr*>(static_cast<const void*>(buf_.data()));
         mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
      if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_seq == seq_ &&
          nlh->nlmsg_len >= mnl_nlmsg_size(sizeof(nlmsgerr))) {
        ack = -static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh))->error;
        continue;
      }
      if (auto p = decode_aligned(nlh)) {
        if (p->time_ns == 0) p->time_ns = int64_t{now.tv_sec} * 1'000'000'000 + now.tv_nsec;
        out.push_back(std::move(*p));
      }
    }
    return ack;
  }

  uint16_t group_;
  std::unique_ptr<mnl_socket, decltype(&mnl_socket_close)> nl_;
  uint32_t seq_ = 0;
  uint64_t overruns_ = 0;
  std::vector<LoggedPacket> pending_;  // packets that arrived with the bind acknowledgement
  alignas(nlmsghdr) std::array<uint8_t, kDatagram> buf_{};
};

}  // namespace

std::optional<LoggedPacket> decode_nflog_message(std::span<const uint8_t> nlmsg) {
  if (nlmsg.size() < mnl_nlmsg_size(sizeof(nfgenmsg))) return std::nullopt;
  // libmnl reads the header and attributes in place, so they must be aligned.
  std::vector<uint32_t> copy((nlmsg.size() + 3) / 4);
  std::memcpy(copy.data(), nlmsg.data(), nlmsg.size());
  const auto* nlh = static_cast<const nlmsghdr*>(static_cast<const void*>(copy.data()));
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nfgenmsg)) || nlh->nlmsg_len > nlmsg.size())
    return std::nullopt;
  return decode_aligned(nlh);
}

std::optional<FiveTuple> five_tuple(std::span<const uint8_t> payload) {
  if (payload.empty()) return std::nullopt;
  switch (payload[0] >> 4) {
    case 4:
      return ipv4_tuple(payload);
    case 6:
      return ipv6_tuple(payload);
    default:
      return std::nullopt;
  }
}

std::unique_ptr<NflogSource> open_nflog(uint16_t group) {
  return std::make_unique<MnlNflog>(group);
}

}  // namespace vmgw::backend
