#include "filter/attributes.h"

#include <algorithm>
#include <array>
#include <string>

namespace vmgw::filter {

namespace {

using T = ValueType;

constexpr std::array<std::string_view, 4> kMacProtocolIds{"arp", "rarp", "ipv4", "ipv6"};
constexpr std::array<std::string_view, 3> kVlanEncaps{"arp", "ipv4", "ipv6"};
constexpr std::array<std::string_view, 9> kArpOpcodes{
    "Request",     "Reply",       "Request_Reverse", "Reply_Reverse", "DRARP_Request",
    "DRARP_Reply", "DRARP_Error", "InARP_Request",   "ARP_NAK"};
constexpr std::array<std::string_view, 8> kIpv4Protocols{"tcp", "udp",  "udplite", "esp",
                                                         "ah",  "icmp", "igmp",    "sctp"};
constexpr std::array<std::string_view, 7> kIpv6Protocols{"tcp", "udp",    "udplite", "esp",
                                                         "ah",  "icmpv6", "sctp"};

constexpr uint32_t kU8 = 0xff;
constexpr uint32_t kU16 = 0xffff;
constexpr uint32_t kU32 = 0xffffffff;
constexpr uint32_t kMaxComment = 256;

AttrSpec uint_attr(std::string_view n, uint32_t max, uint32_t min = 0) {
  return {n, T::uint, min, max};
}
AttrSpec plain(std::string_view n, ValueType t) {
  return {n, t};
}
AttrSpec comment() {
  return {"comment", T::string, 0, kMaxComment};
}

using Table = std::vector<AttrSpec>;

Table operator+(Table a, const Table& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

Table mac_common() {
  return {plain("srcmacaddr", T::mac_addr), plain("srcmacmask", T::mac_mask),
          plain("dstmacaddr", T::mac_addr), plain("dstmacmask", T::mac_mask)};
}

Table ports() {
  return {uint_attr("srcportstart", kU16), uint_attr("srcportend", kU16),
          uint_attr("dstportstart", kU16), uint_attr("dstportend", kU16)};
}

// Attributes shared by the layer-4 elements (tcp, udp, icmp, all, ...): only the source MAC.
Table ip_common(bool v6) {
  T addr = v6 ? T::ipv6_addr : T::ipv4_addr;
  T mask = v6 ? T::ipv6_mask : T::ipv4_mask;
  return {plain("srcmacaddr", T::mac_addr),
          plain("srcipaddr", addr),
          plain("srcipmask", mask),
          plain("dstipaddr", addr),
          plain("dstipmask", mask),
          plain("srcipfrom", addr),
          plain("srcipto", addr),
          plain("dstipfrom", addr),
          plain("dstipto", addr),
          uint_attr("dscp", 63),
          {"connlimit-above", T::uint, 0, kU16, false},
          plain("state", T::state_list),
          plain("ipset", T::ipset_name),
          plain("ipsetflags", T::ipset_flags)};
}

Table build(Protocol p) {
  switch (p) {
    case Protocol::mac:
      return mac_common() +
             Table{{"protocolid", T::uint_or_word, 0x600, kU16, true, kMacProtocolIds}, comment()};
    case Protocol::vlan:
      return mac_common() +
             Table{uint_attr("vlanid", 4095),
                   {"encap-protocol", T::uint_or_word, 0x600, kU16, true, kVlanEncaps},
                   comment()};
    case Protocol::stp:
      return {plain("srcmacaddr", T::mac_addr),
              plain("srcmacmask", T::mac_mask),
              uint_attr("type", kU8),
              uint_attr("flags", kU8),
              uint_attr("root-priority", kU16),
              uint_attr("root-priority-hi", kU16),
              plain("root-address", T::mac_addr),
              plain("root-address-mask", T::mac_mask),
              uint_attr("root-cost", kU32),
              uint_attr("root-cost-hi", kU32),
              uint_attr("sender-priority", kU16),
              uint_attr("sender-priority-hi", kU16),
              plain("sender-address", T::mac_addr),
              plain("sender-address-mask", T::mac_mask),
              uint_attr("port", kU16),
              uint_attr("port-hi", kU16),
              uint_attr("age", kU16),
              uint_attr("age-hi", kU16),
              uint_attr("max-age", kU16),
              uint_attr("max-age-hi", kU16),
              uint_attr("hello-time", kU16),
              uint_attr("hello-time-hi", kU16),
              uint_attr("forward-delay", kU16),
              uint_attr("forward-delay-hi", kU16),
              comment()};
    case Protocol::arp:
    case Protocol::rarp:
      return mac_common() + Table{uint_attr("hwtype", kU16),
                                  uint_attr("protocoltype", kU16),
                                  {"opcode", T::uint_or_word, 0, kU16, true, kArpOpcodes},
                                  plain("arpsrcmacaddr", T::mac_addr),
                                  plain("arpdstmacaddr", T::mac_addr),
                                  plain("arpsrcipaddr", T::ipv4_addr),
                                  plain("arpsrcipmask", T::ipv4_mask),
                                  plain("arpdstipaddr", T::ipv4_addr),
                                  plain("arpdstipmask", T::ipv4_mask),
                                  plain("gratuitous", T::boolean),
                                  comment()};
    case Protocol::ip:
    case Protocol::ipv6: {
      bool v6 = p == Protocol::ipv6;
      T addr = v6 ? T::ipv6_addr : T::ipv4_addr;
      T mask = v6 ? T::ipv6_mask : T::ipv4_mask;
      Table t = mac_common() + Table{plain("srcipaddr", addr), plain("srcipmask", mask),
                                     plain("dstipaddr", addr), plain("dstipmask", mask)};
      if (v6)
        t.push_back({"protocol", T::uint_or_word, 0, kU8, true, kIpv6Protocols});
      else
        t.push_back({"protocol", T::uint_or_word, 0, kU8, true, kIpv4Protocols});
      t = t + ports();
      if (v6)
        t = t + Table{uint_attr("type", kU8), uint_attr("typeend", kU8), uint_attr("code", kU8),
                      uint_attr("codeend", kU8)};
      else
        t.push_back(uint_attr("dscp", 63));
      t.push_back(comment());
      return t;
    }
    case Protocol::tcp:
    case Protocol::tcp_ipv6:
      return ip_common(p == Protocol::tcp_ipv6) + ports() +
             Table{uint_attr("option", kU8), plain("flags", T::tcp_flags), comment()};
    case Protocol::udp:
    case Protocol::udp_ipv6:
    case Protocol::sctp:
    case Protocol::sctp_ipv6: {
      bool v6 = p == Protocol::udp_ipv6 || p == Protocol::sctp_ipv6;
      return ip_common(v6) + ports() + Table{comment()};
    }
    case Protocol::icmp:
    case Protocol::icmpv6:
      return ip_common(p == Protocol::icmpv6) +
             Table{uint_attr("type", kU8), uint_attr("code", kU8), comment()};
    case Protocol::udplite:
    case Protocol::igmp:
    case Protocol::esp:
    case Protocol::ah:
    case Protocol::all:
      return ip_common(false) + Table{comment()};
    case Protocol::udplite_ipv6:
    case Protocol::esp_ipv6:
    case Protocol::ah_ipv6:
    case Protocol::all_ipv6:
      return ip_common(true) + Table{comment()};
  }
  return {};
}

constexpr std::size_t kProtocolCount = static_cast<std::size_t>(Protocol::all_ipv6) + 1;

const std::array<Table, kProtocolCount>& tables() {
  static const std::array<Table, kProtocolCount> all = [] {
    std::array<Table, kProtocolCount> t;
    for (std::size_t i = 0; i < kProtocolCount; ++i) t[i] = build(static_cast<Protocol>(i));
    return t;
  }();
  return all;
}

// Optimal string alignment distance: insertions, deletions, substitutions and transpositions
// of adjacent characters ("tpc" -> "tcp") each cost 1.
std::size_t edit_distance(std::string_view a, std::string_view b) {
  const std::size_t w = b.size() + 1;
  std::vector<std::size_t> d((a.size() + 1) * w);
  for (std::size_t i = 0; i <= a.size(); ++i) d[i * w] = i;
  for (std::size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i)
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      std::size_t v =
          std::min({d[(i - 1) * w + j] + 1, d[i * w + j - 1] + 1, d[(i - 1) * w + j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
        v = std::min(v, d[(i - 2) * w + j - 2] + 1);
      d[i * w + j] = v;
    }
  return d[a.size() * w + b.size()];
}

constexpr std::size_t kMaxSuggestInput = 64;

}  // namespace

std::span<const AttrSpec> attributes_of(Protocol p) {
  return tables()[static_cast<std::size_t>(p)];
}

const AttrSpec* find_attribute(Protocol p, std::string_view name) {
  for (const auto& a : attributes_of(p))
    if (a.name == name) return &a;
  return nullptr;
}

std::vector<std::string_view> similar_names(std::string_view name,
                                            std::span<const std::string_view> candidates) {
  std::vector<std::pair<std::size_t, std::string_view>> scored;
  if (name.empty() || name.size() > kMaxSuggestInput) return {};
  for (auto c : candidates) {
    std::size_t d = edit_distance(name, c);
    if (d <= 2 && d < std::max(name.size(), c.size()))
      scored.emplace_back(d, c);
    else if (name.size() >= 3 && c.starts_with(name))  // "dstport" -> "dstportstart"
      scored.emplace_back(3, c);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& x, const auto& y) { return x.first < y.first; });
  std::vector<std::string_view> out;
  for (const auto& s : scored) out.push_back(s.second);
  return out;
}

std::vector<std::string_view> similar_attributes(Protocol p, std::string_view name) {
  std::vector<std::string_view> names{"match"};
  for (const auto& a : attributes_of(p)) names.push_back(a.name);
  return similar_names(name, names);
}

}  // namespace vmgw::filter
