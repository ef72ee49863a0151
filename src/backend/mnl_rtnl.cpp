// Rtnl over a NETLINK_ROUTE socket (libmnl). Every write is acknowledged (NLM_F_ACK) and a
// refusal becomes an RtnlError naming the operation, the object and the kernel's reason.
#include <errno.h>
#include <libmnl/libmnl.h>
#include <linux/if.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>
#include <time.h>

#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "backend/rtnl.h"
#include "backend/rtnl_messages.h"

namespace vmgw::backend {
namespace {

namespace msg = rtnl_msg;

// Receive buffer: large enough for any single datagram of a dump (the kernel sizes dump skbs
// to at most 32 KiB unless told otherwise).
constexpr size_t kReceiveBuffer = size_t{64} * 1024;

// What the NLMSG_ERROR control callback learned.
struct Reply {
  int error = 0;       // positive errno, 0 on success
  std::string extack;  // NLMSGERR_ATTR_MSG, if the kernel sent one
  std::function<void(const nlmsghdr*)> on_data;
};

int extack_attr(const nlattr* attr, void* data) {
  if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
      mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) >= 0)
    *static_cast<std::string*>(data) = mnl_attr_get_str(attr);
  return MNL_CB_OK;
}

int on_error(const nlmsghdr* nlh, void* data) {
  auto* reply = static_cast<Reply*>(data);
  if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nlmsgerr))) {
    reply->error = EBADMSG;
    errno = EBADMSG;
    return MNL_CB_ERROR;
  }
  const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(nlh));
  if (err->error == 0) return MNL_CB_STOP;  // the ACK
  reply->error = -err->error;
  if ((nlh->nlmsg_flags & NLM_F_ACK_TLVS) != 0) {
    size_t offset = sizeof(nlmsgerr);
    if ((nlh->nlmsg_flags & NLM_F_CAPPED) == 0) offset += err->msg.nlmsg_len - sizeof(nlmsghdr);
    if (mnl_nlmsg_size(offset) <= nlh->nlmsg_len)
      mnl_attr_parse(nlh, static_cast<unsigned int>(offset), extack_attr, &reply->extack);
  }
  errno = reply->error;
  return MNL_CB_ERROR;
}

int on_data(const nlmsghdr* nlh, void* data) {
  auto* reply = static_cast<Reply*>(data);
  if (reply->on_data) reply->on_data(nlh);
  return MNL_CB_OK;
}

class MnlRtnl : public Rtnl {
 public:
  MnlRtnl() {
    open_socket();
    seq_ = static_cast<uint32_t>(time(nullptr));
  }
  ~MnlRtnl() override { close_socket(); }
  MnlRtnl(const MnlRtnl&) = delete;
  MnlRtnl& operator=(const MnlRtnl&) = delete;

  std::vector<LinkInfo> links() override {
    std::vector<LinkInfo> out;
    dump("dump links", msg::dump_links, [&](const nlmsghdr* nlh) {
      if (auto link = msg::parse_link(nlh)) out.push_back(std::move(*link));
    });
    return out;
  }

  std::optional<LinkInfo> link(const std::string& name) override {
    if (name.empty() || name.size() >= IFNAMSIZ) return std::nullopt;
    std::optional<LinkInfo> out;
    Reply reply;
    reply.on_data = [&](const nlmsghdr* nlh) { out = msg::parse_link(nlh); };
    const int error = transact("get link " + name, msg::get_link(next_seq(), name), reply);
    if (error == ENODEV) return std::nullopt;
    if (error != 0) {
      if (reply.error == 0) close_socket();
      throw RtnlError("get link " + name + ": " + reason(error, reply.extack));
    }
    return out;
  }

  std::vector<AddressInfo> addresses() override {
    auto names = ifnames();
    std::vector<AddressInfo> out;
    dump("dump addresses", msg::dump_addresses, [&](const nlmsghdr* nlh) {
      if (auto a = msg::parse_address(nlh, names)) out.push_back(std::move(*a));
    });
    return out;
  }

  std::vector<RouteInfo> routes(uint32_t table) override {
    auto names = ifnames();
    std::vector<RouteInfo> out;
    dump("dump routes", msg::dump_routes, [&](const nlmsghdr* nlh) {
      auto r = msg::parse_route(nlh, names);
      if (r && r->family == AF_INET && (r->type == RTN_UNICAST || r->type == RTN_UNREACHABLE) &&
          (table == 0 || r->route.table == table))
        out.push_back(std::move(r->route));
    });
    return out;
  }

  std::vector<RuleInfo> rules() override {
    std::vector<RuleInfo> out;
    dump("dump rules", msg::dump_rules, [&](const nlmsghdr* nlh) {
      if (auto r = msg::parse_rule(nlh)) out.push_back(std::move(*r));
    });
    return out;
  }

  std::vector<NexthopInfo> nexthops() override {
    auto names = ifnames();
    std::vector<NexthopInfo> out;
    dump("dump nexthops", msg::dump_nexthops, [&](const nlmsghdr* nlh) {
      if (auto n = msg::parse_nexthop(nlh, names)) out.push_back(std::move(*n));
    });
    return out;
  }

  void create_bridge(const std::string& name) override {
    write("create bridge " + name, msg::create_bridge(next_seq(), name));
    write("mark bridge " + name + " as vmgw's",
          msg::set_alias(next_seq(), ifindex(name), kVmgwBridgeAlias));
  }

  void delete_link(const std::string& name) override {
    write("delete link " + name, msg::delete_link(next_seq(), ifindex(name)));
  }

  void set_up(const std::string& name) override {
    int index = ifindex(name);
    write("set up " + name, msg::set_up(next_seq(), index));
  }

  void set_master(const std::string& port, const std::string& bridge) override {
    int port_index = ifindex(port);
    int bridge_index = ifindex(bridge);
    write("set master of " + port + " to " + bridge,
          msg::set_master(next_seq(), port_index, bridge_index));
  }

  void release_port(const std::string& port) override {
    write("release " + port + " from its bridge", msg::set_master(next_seq(), ifindex(port), 0));
  }

  void add_address(const AddressInfo& a) override {
    int index = ifindex(a.device);
    write("add address " + a.address.str() + " on " + a.device,
          msg::new_address(next_seq(), index, a.address));
  }

  void delete_address(const AddressInfo& a) override {
    int index = ifindex(a.device);
    write("delete address " + a.address.str() + " on " + a.device,
          msg::delete_address(next_seq(), index, a.address));
  }

  void replace_route(const RouteInfo& r) override {
    int index = r.device.empty() ? 0 : ifindex(r.device);
    write("replace route " + msg::describe(r), msg::replace_route(next_seq(), r, index));
  }

  void delete_route(const RouteInfo& r) override {
    int index = r.device.empty() ? 0 : ifindex(r.device);
    write("delete route " + msg::describe(r), msg::delete_route(next_seq(), r, index));
  }

  void add_rule(const RuleInfo& r) override {
    write("add rule " + msg::describe(r), msg::new_rule(next_seq(), r));
  }

  void delete_rule(const RuleInfo& r) override {
    write("delete rule " + msg::describe(r), msg::delete_rule(next_seq(), r));
  }

  void replace_nexthop(const NexthopInfo& n) override {
    int index = n.group.empty() ? ifindex(n.device) : 0;
    write("replace nexthop " + msg::describe(n), msg::replace_nexthop(next_seq(), n, index));
  }

  void delete_nexthop(uint32_t id) override {
    write("delete nexthop " + std::to_string(id), msg::delete_nexthop(next_seq(), id));
  }

 private:
  void open_socket() {
    nl_ = mnl_socket_open(NETLINK_ROUTE);
    if (nl_ == nullptr) throw RtnlError(std::string("open rtnetlink socket: ") + strerror(errno));
    if (mnl_socket_bind(nl_, 0, MNL_SOCKET_AUTOPID) < 0) {
      int e = errno;
      close_socket();
      throw RtnlError(std::string("bind rtnetlink socket: ") + strerror(e));
    }
    // Best effort: extended ACKs carry the kernel's explanation ("Nexthop has invalid gateway").
    int one = 1;
    mnl_socket_setsockopt(nl_, NETLINK_EXT_ACK, &one, sizeof one);
    portid_ = mnl_socket_get_portid(nl_);
  }

  void close_socket() {
    if (nl_ != nullptr) mnl_socket_close(nl_);
    nl_ = nullptr;
  }

  uint32_t next_seq() { return ++seq_; }

  msg::IfNames ifnames() {
    msg::IfNames out;
    for (const auto& l : links()) out[l.index] = l.name;
    return out;
  }

  int ifindex(const std::string& name) {
    auto l = link(name);
    if (!l) throw RtnlError("no such device '" + name + "'");
    return l->index;
  }

  // Sends `req` and processes replies until the ACK / NLMSG_DONE. Returns 0 or a positive errno;
  // kernel refusals fill `reply.extack`. Throws on socket failures (after closing the socket,
  // which may hold stray replies; the next request opens a fresh one).
  int transact(const std::string& what, const msg::Message& req, Reply& reply) {
    if (nl_ == nullptr) open_socket();
    const nlmsghdr* nlh = msg::header(req);
    if (mnl_socket_sendto(nl_, req.data(), req.size()) < 0) {
      int e = errno;
      close_socket();
      throw RtnlError(what + ": send: " + strerror(e));
    }
    std::vector<uint8_t> buf(kReceiveBuffer);
    mnl_cb_t ctl[NLMSG_ERROR + 1] = {};
    ctl[NLMSG_ERROR] = on_error;
    for (;;) {
      ssize_t n = mnl_socket_recvfrom(nl_, buf.data(), buf.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        int e = errno;
        close_socket();
        throw RtnlError(what + ": receive: " + strerror(e));
      }
      errno = 0;
      int ret = mnl_cb_run2(buf.data(), static_cast<size_t>(n), nlh->nlmsg_seq, portid_, on_data,
                            &reply, ctl, NLMSG_ERROR + 1);
      if (ret == MNL_CB_STOP) return 0;
      if (ret == MNL_CB_ERROR) {
        if (reply.error != 0) return reply.error;
        return errno != 0 ? errno : EPROTO;
      }
    }
  }

  static std::string reason(int error, const std::string& extack) {
    std::string s = strerror(error);
    if (!extack.empty()) s += " (" + extack + ")";
    return s;
  }

  void write(const std::string& what, const msg::Message& req) {
    Reply reply;
    int error = transact(what, req, reply);
    if (error != 0) {
      // A kernel refusal ends the exchange; anything else may leave replies in the socket.
      if (reply.error == 0) close_socket();
      throw RtnlError(what + ": " + reason(error, reply.extack));
    }
  }

  void dump(const std::string& what, msg::Message (*build)(uint32_t),
            const std::function<void(const nlmsghdr*)>& each) {
    // A dump interrupted by a concurrent change (NLM_F_DUMP_INTR) is inconsistent: start over
    // on a fresh socket so that the rest of the interrupted dump cannot be mistaken for replies
    // (transact opens a new socket when the previous one was closed).
    for (int attempt = 0;; ++attempt) {
      // Replies are kept until the dump is complete so that `each` never sees a partial dump.
      std::vector<std::vector<uint8_t>> copies;
      Reply reply;
      reply.on_data = [&](const nlmsghdr* nlh) {
        const auto* p = static_cast<const uint8_t*>(static_cast<const void*>(nlh));
        copies.emplace_back(p, p + nlh->nlmsg_len);
      };
      int error = transact(what, build(next_seq()), reply);
      if (error == 0) {
        for (const auto& c : copies)
          each(static_cast<const nlmsghdr*>(static_cast<const void*>(c.data())));
        return;
      }
      if (reply.error == 0) close_socket();
      if (error != EINTR || attempt >= 4)
        throw RtnlError(what + ": " + reason(error, reply.extack));
    }
  }

  mnl_socket* nl_ = nullptr;
  uint32_t portid_ = 0;
  uint32_t seq_ = 0;
};

}  // namespace

std::unique_ptr<Rtnl> make_mnl_rtnl() {
  return std::make_unique<MnlRtnl>();
}

}  // namespace vmgw::backend
