#include "backend/rtnl_messages.h"

#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <linux/fib_rules.h>
#include <linux/if.h>
#include <linux/if_addr.h>
#include <linux/if_link.h>
#include <linux/nexthop.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>

namespace vmgw::backend::rtnl_msg {
namespace {

// Large enough for every request built here (the longest is a route: ~80 bytes).
constexpr size_t kBufferSize = 512;

// A request under construction in a local, suitably aligned buffer.
class Builder {
 public:
  Builder(uint16_t type, uint16_t flags, uint32_t seq) {
    nlh_ = mnl_nlmsg_put_header(buf_.data());
    nlh_->nlmsg_type = type;
    nlh_->nlmsg_flags = flags;
    nlh_->nlmsg_seq = seq;
    nlh_->nlmsg_pid = 0;
  }

  template <typename T>
  T* put_payload() {
    return static_cast<T*>(mnl_nlmsg_put_extra_header(nlh_, sizeof(T)));
  }

  nlmsghdr* nlh() { return nlh_; }

  Message bytes() const {
    const auto* p = static_cast<const uint8_t*>(static_cast<const void*>(nlh_));
    return Message(p, p + nlh_->nlmsg_len);
  }

 private:
  alignas(8) std::array<uint8_t, kBufferSize> buf_{};
  nlmsghdr* nlh_;
};

uint32_t be(Ipv4 a) {
  return htonl(a.value);
}

constexpr uint16_t kWrite = NLM_F_REQUEST | NLM_F_ACK;
constexpr uint16_t kDump = NLM_F_REQUEST | NLM_F_DUMP;

Message link_request(uint32_t seq, int ifindex, uint32_t change, uint32_t flags, int master) {
  Builder b(RTM_NEWLINK, kWrite, seq);
  auto* ifi = b.put_payload<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  ifi->ifi_change = change;
  ifi->ifi_flags = flags;
  if (master >= 0) mnl_attr_put_u32(b.nlh(), IFLA_MASTER, static_cast<uint32_t>(master));
  return b.bytes();
}

Message address_request(uint16_t type, uint16_t flags, uint32_t seq, int ifindex,
                        const InterfaceAddress& a, bool with_flags) {
  Builder b(type, flags, seq);
  auto* ifa = b.put_payload<ifaddrmsg>();
  ifa->ifa_family = AF_INET;
  ifa->ifa_prefixlen = static_cast<uint8_t>(a.prefix);
  ifa->ifa_flags = 0;
  ifa->ifa_scope = RT_SCOPE_UNIVERSE;
  ifa->ifa_index = static_cast<uint32_t>(ifindex);
  mnl_attr_put_u32(b.nlh(), IFA_LOCAL, be(a.address));
  mnl_attr_put_u32(b.nlh(), IFA_ADDRESS, be(a.address));
  if (with_flags && a.prefix == 32) mnl_attr_put_u32(b.nlh(), IFA_FLAGS, IFA_F_NOPREFIXROUTE);
  if (with_flags) mnl_attr_put_u8(b.nlh(), IFA_PROTO, kVmgwProtocol);
  return b.bytes();
}

Message route_request(uint16_t type, uint16_t flags, uint32_t seq, const RouteInfo& r, int oif,
                      bool del) {
  Builder b(type, flags, seq);
  auto* rtm = b.put_payload<rtmsg>();
  rtm->rtm_family = AF_INET;
  rtm->rtm_dst_len = static_cast<uint8_t>(r.destination.prefix);
  rtm->rtm_src_len = 0;
  rtm->rtm_tos = 0;
  rtm->rtm_table = r.table < 256 ? static_cast<uint8_t>(r.table) : uint8_t{RT_TABLE_UNSPEC};
  rtm->rtm_type = r.unreachable ? uint8_t{RTN_UNREACHABLE} : uint8_t{RTN_UNICAST};
  if (del) {
    rtm->rtm_protocol = 0;
    rtm->rtm_scope = RT_SCOPE_NOWHERE;
  } else {
    rtm->rtm_protocol = r.protocol != 0 ? r.protocol : uint8_t{RTPROT_STATIC};
    bool direct = r.gateway.value == 0 && r.nexthop == 0 && !r.unreachable;
    rtm->rtm_scope = direct ? uint8_t{RT_SCOPE_LINK} : uint8_t{RT_SCOPE_UNIVERSE};
  }
  mnl_attr_put_u32(b.nlh(), RTA_DST, be(r.destination.network));
  if (r.nexthop != 0) {
    mnl_attr_put_u32(b.nlh(), RTA_NH_ID, r.nexthop);
  } else if (!r.unreachable) {
    if (r.gateway.value != 0) mnl_attr_put_u32(b.nlh(), RTA_GATEWAY, be(r.gateway));
    mnl_attr_put_u32(b.nlh(), RTA_OIF, static_cast<uint32_t>(oif));
  }
  mnl_attr_put_u32(b.nlh(), RTA_PRIORITY, r.metric);
  mnl_attr_put_u32(b.nlh(), RTA_TABLE, r.table);
  return b.bytes();
}

Message rule_request(uint16_t type, uint16_t flags, uint32_t seq, const RuleInfo& r) {
  Builder b(type, flags, seq);
  auto* frh = b.put_payload<fib_rule_hdr>();
  frh->family = AF_INET;
  frh->src_len = r.from ? static_cast<uint8_t>(r.from->prefix) : uint8_t{0};
  frh->table = r.table < 256 ? static_cast<uint8_t>(r.table) : uint8_t{RT_TABLE_UNSPEC};
  frh->action = FR_ACT_TO_TBL;
  mnl_attr_put_u32(b.nlh(), FRA_PRIORITY, r.priority);
  mnl_attr_put_u32(b.nlh(), FRA_TABLE, r.table);
  if (r.from && r.from->prefix > 0) mnl_attr_put_u32(b.nlh(), FRA_SRC, be(r.from->network));
  if (r.fwmark != 0 || r.fwmask != 0) {
    mnl_attr_put_u32(b.nlh(), FRA_FWMARK, r.fwmark);
    mnl_attr_put_u32(b.nlh(), FRA_FWMASK, r.fwmask);
  }
  if (r.suppress_prefixlength)
    mnl_attr_put_u32(b.nlh(), FRA_SUPPRESS_PREFIXLEN, *r.suppress_prefixlength);
  if (r.protocol != 0) mnl_attr_put_u8(b.nlh(), FRA_PROTOCOL, r.protocol);
  return b.bytes();
}

// Collects attributes by type, ignoring types >= N.
template <size_t N>
struct Attrs {
  std::array<const nlattr*, N> at{};

  static int collect(const nlattr* attr, void* data) {
    auto* self = static_cast<Attrs*>(data);
    auto type = mnl_attr_get_type(attr);
    if (type < N) self->at[type] = attr;
    return MNL_CB_OK;
  }

  const nlattr* operator[](size_t type) const { return at[type]; }
};

// The u32 value of `attr`, nullopt if absent or of the wrong size.
std::optional<uint32_t> u32(const nlattr* attr) {
  if (attr == nullptr || mnl_attr_validate(attr, MNL_TYPE_U32) < 0) return std::nullopt;
  return mnl_attr_get_u32(attr);
}

std::optional<Ipv4> ipv4(const nlattr* attr) {
  auto v = u32(attr);
  if (!v) return std::nullopt;
  return Ipv4{ntohl(*v)};
}

// A string attribute, with or without its terminating NUL.
std::optional<std::string> str(const nlattr* attr) {
  if (attr == nullptr) return std::nullopt;
  const char* p = mnl_attr_get_str(attr);
  size_t len = mnl_attr_get_payload_len(attr);
  return std::string(p, strnlen(p, len));
}

std::string name_of(const IfNames& names, int index) {
  auto it = names.find(index);
  return it == names.end() ? std::string{} : it->second;
}

}  // namespace

const nlmsghdr* header(const Message& m) {
  return static_cast<const nlmsghdr*>(static_cast<const void*>(m.data()));
}

Message create_bridge(uint32_t seq, const std::string& name) {
  Builder b(RTM_NEWLINK, kWrite | NLM_F_CREATE | NLM_F_EXCL, seq);
  auto* ifi = b.put_payload<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(b.nlh(), IFLA_IFNAME, name.c_str());
  nlattr* linkinfo = mnl_attr_nest_start(b.nlh(), IFLA_LINKINFO);
  mnl_attr_put_str(b.nlh(), IFLA_INFO_KIND, "bridge");
  mnl_attr_nest_end(b.nlh(), linkinfo);
  return b.bytes();
}

Message set_alias(uint32_t seq, int ifindex, const std::string& alias) {
  Builder b(RTM_NEWLINK, kWrite, seq);
  auto* ifi = b.put_payload<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  mnl_attr_put_strz(b.nlh(), IFLA_IFALIAS, alias.c_str());
  return b.bytes();
}

Message delete_link(uint32_t seq, int ifindex) {
  Builder b(RTM_DELLINK, kWrite, seq);
  auto* ifi = b.put_payload<ifinfomsg>();
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  return b.bytes();
}

Message set_up(uint32_t seq, int ifindex) {
  return link_request(seq, ifindex, IFF_UP, IFF_UP, -1);
}

Message set_master(uint32_t seq, int ifindex, int master_ifindex) {
  return link_request(seq, ifindex, 0, 0, master_ifindex);
}

Message new_address(uint32_t seq, int ifindex, const InterfaceAddress& a) {
  return address_request(RTM_NEWADDR, kWrite | NLM_F_CREATE | NLM_F_EXCL, seq, ifindex, a, true);
}

Message delete_address(uint32_t seq, int ifindex, const InterfaceAddress& a) {
  return address_request(RTM_DELADDR, kWrite, seq, ifindex, a, false);
}

Message replace_route(uint32_t seq, const RouteInfo& r, int oif) {
  return route_request(RTM_NEWROUTE, kWrite | NLM_F_CREATE | NLM_F_REPLACE, seq, r, oif, false);
}

Message delete_route(uint32_t seq, const RouteInfo& r, int oif) {
  return route_request(RTM_DELROUTE, kWrite, seq, r, oif, true);
}

Message new_rule(uint32_t seq, const RuleInfo& r) {
  return rule_request(RTM_NEWRULE, kWrite | NLM_F_CREATE | NLM_F_EXCL, seq, r);
}

Message delete_rule(uint32_t seq, const RuleInfo& r) {
  return rule_request(RTM_DELRULE, kWrite, seq, r);
}

Message replace_nexthop(uint32_t seq, const NexthopInfo& n, int oif) {
  Builder b(RTM_NEWNEXTHOP, kWrite | NLM_F_CREATE | NLM_F_REPLACE, seq);
  auto* nhm = b.put_payload<nhmsg>();
  nhm->nh_family = n.group.empty() ? uint8_t{AF_INET} : uint8_t{AF_UNSPEC};
  nhm->nh_protocol = n.protocol != 0 ? n.protocol : uint8_t{RTPROT_STATIC};
  mnl_attr_put_u32(b.nlh(), NHA_ID, n.id);
  if (!n.group.empty()) {
    std::vector<nexthop_grp> members(n.group.size());
    for (size_t i = 0; i < n.group.size(); ++i) {
      members[i].id = n.group[i].id;
      // The kernel stores weight - 1 (so a u8 carries 1-256).
      members[i].weight = static_cast<uint8_t>(std::clamp<uint32_t>(n.group[i].weight, 1, 256) - 1);
    }
    mnl_attr_put(b.nlh(), NHA_GROUP, members.size() * sizeof(nexthop_grp), members.data());
    mnl_attr_put_u16(b.nlh(), NHA_GROUP_TYPE, NEXTHOP_GRP_TYPE_MPATH);
  } else {
    mnl_attr_put_u32(b.nlh(), NHA_OIF, static_cast<uint32_t>(oif));
    if (n.gateway.value != 0) mnl_attr_put_u32(b.nlh(), NHA_GATEWAY, be(n.gateway));
  }
  return b.bytes();
}

Message delete_nexthop(uint32_t seq, uint32_t id) {
  Builder b(RTM_DELNEXTHOP, kWrite, seq);
  b.put_payload<nhmsg>()->nh_family = AF_UNSPEC;
  mnl_attr_put_u32(b.nlh(), NHA_ID, id);
  return b.bytes();
}

Message dump_rules(uint32_t seq) {
  Builder b(RTM_GETRULE, kDump, seq);
  b.put_payload<fib_rule_hdr>()->family = AF_INET;
  return b.bytes();
}

Message dump_nexthops(uint32_t seq) {
  Builder b(RTM_GETNEXTHOP, kDump, seq);
  b.put_payload<nhmsg>()->nh_family = AF_UNSPEC;
  return b.bytes();
}

Message get_link(uint32_t seq, const std::string& name) {
  Builder b(RTM_GETLINK, kWrite, seq);
  b.put_payload<ifinfomsg>()->ifi_family = AF_UNSPEC;
  mnl_attr_put_strz(b.nlh(), IFLA_IFNAME, name.c_str());
  return b.bytes();
}

Message dump_links(uint32_t seq) {
  Builder b(RTM_GETLINK, kDump, seq);
  b.put_payload<ifinfomsg>()->ifi_family = AF_UNSPEC;
  return b.bytes();
}

Message dump_addresses(uint32_t seq) {
  Builder b(RTM_GETADDR, kDump, seq);
  b.put_payload<ifaddrmsg>()->ifa_family = AF_INET;
  return b.bytes();
}

Message dump_routes(uint32_t seq) {
  Builder b(RTM_GETROUTE, kDump, seq);
  b.put_payload<rtmsg>()->rtm_family = AF_INET;
  return b.bytes();
}

std::optional<LinkInfo> parse_link(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWLINK || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifinfomsg)))
    return std::nullopt;
  const auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs<IFLA_MAX + 1> tb;
  if (mnl_attr_parse(nlh, sizeof(ifinfomsg), Attrs<IFLA_MAX + 1>::collect, &tb) < 0)
    return std::nullopt;
  LinkInfo link;
  link.index = ifi->ifi_index;
  link.up = (ifi->ifi_flags & IFF_UP) != 0;
  link.carrier = (ifi->ifi_flags & IFF_LOWER_UP) != 0;
  auto name = str(tb[IFLA_IFNAME]);
  if (!name) return std::nullopt;
  link.name = *name;
  if (auto master = u32(tb[IFLA_MASTER])) link.master = static_cast<int>(*master);
  link.alias = str(tb[IFLA_IFALIAS]).value_or("");
  if (const nlattr* info = tb[IFLA_LINKINFO]; info != nullptr) {
    Attrs<IFLA_INFO_MAX + 1> li;
    if (mnl_attr_parse_nested(info, Attrs<IFLA_INFO_MAX + 1>::collect, &li) < 0)
      return std::nullopt;
    link.kind = str(li[IFLA_INFO_KIND]).value_or("");
  }
  return link;
}

std::optional<AddressInfo> parse_address(const nlmsghdr* nlh, const IfNames& names) {
  if (nlh->nlmsg_type != RTM_NEWADDR || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(ifaddrmsg)))
    return std::nullopt;
  const auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  if (ifa->ifa_family != AF_INET) return std::nullopt;
  Attrs<IFA_MAX + 1> tb;
  if (mnl_attr_parse(nlh, sizeof(ifaddrmsg), Attrs<IFA_MAX + 1>::collect, &tb) < 0)
    return std::nullopt;
  auto addr = ipv4(tb[IFA_LOCAL]);
  if (!addr) addr = ipv4(tb[IFA_ADDRESS]);
  if (!addr) return std::nullopt;
  AddressInfo info;
  info.device = name_of(names, static_cast<int>(ifa->ifa_index));
  info.address = InterfaceAddress{*addr, ifa->ifa_prefixlen};
  if (const nlattr* proto = tb[IFA_PROTO]; proto != nullptr) info.protocol = mnl_attr_get_u8(proto);
  return info;
}

std::optional<ParsedRoute> parse_route(const nlmsghdr* nlh, const IfNames& names) {
  if (nlh->nlmsg_type != RTM_NEWROUTE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(rtmsg)))
    return std::nullopt;
  const auto* rtm = static_cast<const rtmsg*>(mnl_nlmsg_get_payload(nlh));
  ParsedRoute p;
  p.family = rtm->rtm_family;
  p.type = rtm->rtm_type;
  p.route.table = rtm->rtm_table;
  p.route.destination.prefix = rtm->rtm_dst_len;
  if (rtm->rtm_family != AF_INET) return p;  // attributes are not IPv4: leave them
  Attrs<RTA_MAX + 1> tb;
  if (mnl_attr_parse(nlh, sizeof(rtmsg), Attrs<RTA_MAX + 1>::collect, &tb) < 0) return std::nullopt;
  if (auto dst = ipv4(tb[RTA_DST])) p.route.destination.network = *dst;
  if (auto gw = ipv4(tb[RTA_GATEWAY])) p.route.gateway = *gw;
  if (auto oif = u32(tb[RTA_OIF])) p.route.device = name_of(names, static_cast<int>(*oif));
  if (auto metric = u32(tb[RTA_PRIORITY])) p.route.metric = *metric;
  if (auto table = u32(tb[RTA_TABLE])) p.route.table = *table;
  if (auto nh = u32(tb[RTA_NH_ID])) {
    p.route.nexthop = *nh;
    // A route through a nexthop object also reports the nexthop's gateway and device (when it
    // is a single nexthop): they belong to the nexthop, not to the route.
    p.route.gateway = Ipv4{};
    p.route.device.clear();
  }
  p.route.unreachable = rtm->rtm_type == RTN_UNREACHABLE;
  p.route.protocol = rtm->rtm_protocol;
  return p;
}

std::optional<RuleInfo> parse_rule(const nlmsghdr* nlh) {
  if (nlh->nlmsg_type != RTM_NEWRULE || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(fib_rule_hdr)))
    return std::nullopt;
  const auto* frh = static_cast<const fib_rule_hdr*>(mnl_nlmsg_get_payload(nlh));
  if (frh->family != AF_INET) return std::nullopt;
  Attrs<FRA_MAX + 1> tb;
  if (mnl_attr_parse(nlh, sizeof(fib_rule_hdr), Attrs<FRA_MAX + 1>::collect, &tb) < 0)
    return std::nullopt;
  RuleInfo r;
  r.table = frh->table;
  if (auto t = u32(tb[FRA_TABLE])) r.table = *t;
  r.priority = u32(tb[FRA_PRIORITY]).value_or(0);
  if (frh->src_len > 0) {
    if (auto src = ipv4(tb[FRA_SRC])) r.from = Cidr{*src, frh->src_len};
  }
  r.fwmark = u32(tb[FRA_FWMARK]).value_or(0);
  r.fwmask = u32(tb[FRA_FWMASK]).value_or(0);
  if (auto sp = u32(tb[FRA_SUPPRESS_PREFIXLEN]); sp && *sp != 0xFFFFFFFFU)
    r.suppress_prefixlength = *sp;
  if (const nlattr* proto = tb[FRA_PROTOCOL];
      proto != nullptr && mnl_attr_validate(proto, MNL_TYPE_U8) >= 0)
    r.protocol = mnl_attr_get_u8(proto);
  return r;
}

std::optional<NexthopInfo> parse_nexthop(const nlmsghdr* nlh, const IfNames& names) {
  if (nlh->nlmsg_type != RTM_NEWNEXTHOP || nlh->nlmsg_len < mnl_nlmsg_size(sizeof(nhmsg)))
    return std::nullopt;
  const auto* nhm = static_cast<const nhmsg*>(mnl_nlmsg_get_payload(nlh));
  Attrs<NHA_MAX + 1> tb;
  if (mnl_attr_parse(nlh, sizeof(nhmsg), Attrs<NHA_MAX + 1>::collect, &tb) < 0) return std::nullopt;
  auto id = u32(tb[NHA_ID]);
  if (!id) return std::nullopt;
  NexthopInfo n;
  n.id = *id;
  n.protocol = nhm->nh_protocol;
  if (const nlattr* g = tb[NHA_GROUP]; g != nullptr) {
    size_t len = mnl_attr_get_payload_len(g);
    const auto* p = static_cast<const uint8_t*>(mnl_attr_get_payload(g));
    for (size_t off = 0; off + sizeof(nexthop_grp) <= len; off += sizeof(nexthop_grp)) {
      nexthop_grp m{};
      std::memcpy(&m, p + off, sizeof m);
      n.group.push_back({m.id, uint32_t{m.weight} + 1});
    }
    return n;
  }
  if (nhm->nh_family != AF_INET) return std::nullopt;  // IPv6 nexthops are not vmgw's
  if (auto oif = u32(tb[NHA_OIF])) n.device = name_of(names, static_cast<int>(*oif));
  if (auto gw = ipv4(tb[NHA_GATEWAY])) n.gateway = *gw;
  return n;
}

std::string describe(const RouteInfo& r) {
  std::string s = r.unreachable ? "unreachable " + r.destination.str() : r.destination.str();
  if (r.nexthop != 0) {
    s += " nhid " + std::to_string(r.nexthop);
  } else if (!r.unreachable) {
    if (r.gateway.value != 0) s += " via " + r.gateway.str();
    s += " dev " + r.device;
  }
  s += " metric " + std::to_string(r.metric) + " table " + std::to_string(r.table);
  return s;
}

std::string describe(const RuleInfo& r) {
  std::string s = std::to_string(r.priority) + ": from " + (r.from ? r.from->str() : "all");
  if (r.fwmark != 0 || r.fwmask != 0) {
    char mark[32];
    std::snprintf(mark, sizeof mark, " fwmark 0x%x/0x%x", r.fwmark, r.fwmask);
    s += mark;
  }
  s += " lookup " + std::to_string(r.table);
  if (r.suppress_prefixlength)
    s += " suppress_prefixlength " + std::to_string(*r.suppress_prefixlength);
  return s;
}

std::string describe(const NexthopInfo& n) {
  std::string s = "id " + std::to_string(n.id);
  if (!n.group.empty()) {
    s += " group ";
    for (size_t i = 0; i < n.group.size(); ++i) {
      if (i > 0) s += "/";
      s += std::to_string(n.group[i].id);
      if (n.group[i].weight != 1) s += "," + std::to_string(n.group[i].weight);
    }
    return s;
  }
  if (n.gateway.value != 0) s += " via " + n.gateway.str();
  return s + " dev " + n.device;
}

}  // namespace vmgw::backend::rtnl_msg
