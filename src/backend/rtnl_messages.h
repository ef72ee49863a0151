// Pure builders and parsers of the rtnetlink messages MnlRtnl exchanges with the kernel. No I/O:
// every builder returns the complete request (nlmsghdr + payload) as bytes, deterministic for a
// given sequence number and resolved ifindexes, so the wire format is unit-testable.
//
// Every write request carries NLM_F_REQUEST | NLM_F_ACK so that the kernel answers each one with
// an NLMSG_ERROR (error 0 on success). The port id in the header is 0 (the kernel fills it in).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "backend/rtnl.h"
#include "model/net.h"

struct nlmsghdr;

namespace vmgw::backend::rtnl_msg {

using Message = std::vector<uint8_t>;
using IfNames = std::map<int, std::string>;  // ifindex -> device name

// RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL: IFLA_IFNAME, IFLA_LINKINFO { IFLA_INFO_KIND "bridge" }.
Message create_bridge(uint32_t seq, const std::string& name);
// RTM_NEWLINK on ifindex: IFLA_IFALIAS = alias (the kernel ignores an alias given at creation).
Message set_alias(uint32_t seq, int ifindex, const std::string& alias);
// RTM_DELLINK on ifindex.
Message delete_link(uint32_t seq, int ifindex);
// RTM_NEWLINK on ifindex: ifi_change = ifi_flags = IFF_UP.
Message set_up(uint32_t seq, int ifindex);
// RTM_NEWLINK on ifindex: IFLA_MASTER = master_ifindex.
Message set_master(uint32_t seq, int ifindex, int master_ifindex);

// RTM_NEWADDR (NLM_F_CREATE | NLM_F_EXCL), AF_INET, scope universe: IFA_LOCAL and IFA_ADDRESS
// both set to the address, IFA_PROTO = kVmgwProtocol; /32 addresses also carry IFA_FLAGS =
// IFA_F_NOPREFIXROUTE.
Message new_address(uint32_t seq, int ifindex, const InterfaceAddress& a);
// RTM_DELADDR, AF_INET: IFA_LOCAL and IFA_ADDRESS, prefix length.
Message delete_address(uint32_t seq, int ifindex, const InterfaceAddress& a);

// RTM_NEWROUTE, NLM_F_CREATE | NLM_F_REPLACE, AF_INET, RTN_UNICAST, RTPROT_STATIC, scope universe
// (or link when there is no gateway): RTA_DST, RTA_GATEWAY (if any), RTA_OIF, RTA_PRIORITY,
// RTA_TABLE (rtm_table mirrors it when < 256, RT_TABLE_UNSPEC otherwise).
// `r.device` is ignored: oif is the resolved ifindex.
Message replace_route(uint32_t seq, const RouteInfo& r, int oif);
// RTM_DELROUTE with the same attributes. Protocol 0 and scope RT_SCOPE_NOWHERE ("any") so that
// the route is found whoever created it; the kernel matches (table, dst, metric, gateway, oif).
Message delete_route(uint32_t seq, const RouteInfo& r, int oif);

// A route through a nexthop object carries RTA_NH_ID instead of RTA_GATEWAY/RTA_OIF; an
// unreachable route (RTN_UNREACHABLE) neither. rtm_protocol is r.protocol (RTPROT_STATIC if 0).

// RTM_NEWRULE, NLM_F_CREATE | NLM_F_EXCL, FR_ACT_TO_TBL: FRA_PRIORITY, FRA_TABLE, FRA_SRC (with
// src_len), FRA_FWMARK + FRA_FWMASK, FRA_SUPPRESS_PREFIXLEN, FRA_PROTOCOL, as set in `r`.
Message new_rule(uint32_t seq, const RuleInfo& r);
// RTM_DELRULE with the same selectors: the kernel deletes the first rule matching all of them.
Message delete_rule(uint32_t seq, const RuleInfo& r);
// RTM_NEWNEXTHOP, NLM_F_CREATE | NLM_F_REPLACE: NHA_ID and either NHA_OIF (+ NHA_GATEWAY),
// family AF_INET, or NHA_GROUP (weights stored as weight - 1) + NHA_GROUP_TYPE mpath, family
// AF_UNSPEC. nh_protocol is n.protocol (RTPROT_STATIC if 0). `oif` is ignored for a group.
Message replace_nexthop(uint32_t seq, const NexthopInfo& n, int oif);
// RTM_DELNEXTHOP: NHA_ID.
Message delete_nexthop(uint32_t seq, uint32_t id);

// RTM_GETLINK of one link by name (IFLA_IFNAME), acknowledged: the link, then the ACK.
Message get_link(uint32_t seq, const std::string& name);

// NLM_F_REQUEST | NLM_F_DUMP requests.
Message dump_rules(uint32_t seq);      // RTM_GETRULE, AF_INET
Message dump_nexthops(uint32_t seq);   // RTM_GETNEXTHOP, AF_UNSPEC
Message dump_links(uint32_t seq);      // RTM_GETLINK, AF_UNSPEC
Message dump_addresses(uint32_t seq);  // RTM_GETADDR, AF_INET
Message dump_routes(uint32_t seq);     // RTM_GETROUTE, AF_INET

// A route as the kernel reports it, with what RouteInfo leaves out.
struct ParsedRoute {
  RouteInfo route;
  uint8_t family = 0;  // rtm_family
  uint8_t type = 0;    // rtm_type (RTN_UNICAST, RTN_LOCAL, ...)
};

// RTM_NEWLINK -> LinkInfo (IFLA_IFNAME, IFLA_MASTER, IFLA_LINKINFO/IFLA_INFO_KIND, ifi_flags).
// nullopt if the message is not an RTM_NEWLINK or is malformed.
std::optional<LinkInfo> parse_link(const nlmsghdr* nlh);
// RTM_NEWADDR -> AddressInfo (IFA_LOCAL, falling back to IFA_ADDRESS). nullopt if not an AF_INET
// RTM_NEWADDR or malformed. The device name comes from `names` ("" if the index is unknown).
std::optional<AddressInfo> parse_address(const nlmsghdr* nlh, const IfNames& names);
// RTM_NEWROUTE -> ParsedRoute (RTA_DST, RTA_GATEWAY, RTA_OIF, RTA_PRIORITY, RTA_TABLE falling
// back to rtm_table). nullopt if not an RTM_NEWROUTE or malformed; any family and type is
// returned, the caller filters.
std::optional<ParsedRoute> parse_route(const nlmsghdr* nlh, const IfNames& names);

// RTM_NEWRULE (AF_INET) -> RuleInfo; suppress_prefixlength is unset when the kernel reports
// its "none" value (-1). nullopt for other families or malformed messages.
std::optional<RuleInfo> parse_rule(const nlmsghdr* nlh);
// RTM_NEWNEXTHOP -> NexthopInfo: a group (NHA_GROUP, weights + 1), or an AF_INET nexthop
// (NHA_OIF, NHA_GATEWAY). nullopt for IPv6 nexthops and malformed messages.
std::optional<NexthopInfo> parse_nexthop(const nlmsghdr* nlh, const IfNames& names);

// The header at the start of a built message (for tests and for sending).
const nlmsghdr* header(const Message& m);

// "0.0.0.0/0 via 203.0.113.1 dev wan0 metric 100 table 254" (no "via" for a direct route),
// "0.0.0.0/0 nhid 3000 metric 100 table 254", "unreachable 0.0.0.0/0 metric 4294967295 table 1001".
std::string describe(const RouteInfo& r);
// "10400: from 203.0.113.2/32 lookup 1167", "10100: from all fwmark 0xa70000/0xff0000 lookup 1167".
std::string describe(const RuleInfo& r);
// "id 1167 via 203.0.113.1 dev wan0", "id 3000 group 1167/1042,3" (weights other than 1 shown).
std::string describe(const NexthopInfo& n);

}  // namespace vmgw::backend::rtnl_msg
