// The kernel's connection-tracking helpers vmgw offers (`helpers:` of a network and of the
// host): each follows a control connection on its standard port and lets the connections it
// announces in (FTP data, TFTP transfers, SIP media, IRC DCC) as `related`, NAT included.
// PPTP is left out: its NAT helper is not in every kernel, and without it PPTP cannot cross NAT.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "model/net.h"

namespace vmgw {

struct ConntrackHelperKind {
  std::string_view name;  // also the kernel's helper name and the nft object's
  Proto proto;
  uint16_t port;  // the control connection's standard port
};

inline constexpr std::array<ConntrackHelperKind, 4> kConntrackHelpers{{
    {"ftp", Proto::tcp, 21},
    {"tftp", Proto::udp, 69},
    {"sip", Proto::udp, 5060},
    {"irc", Proto::tcp, 6667},
}};

inline const ConntrackHelperKind* find_conntrack_helper(std::string_view name) {
  for (const auto& h : kConntrackHelpers)
    if (h.name == name) return &h;
  return nullptr;
}

// "ftp, tftp, sip or irc"
inline std::string conntrack_helper_names() {
  std::string out;
  for (size_t i = 0; i < kConntrackHelpers.size(); ++i) {
    if (i) out += i + 1 == kConntrackHelpers.size() ? " or " : ", ";
    out += kConntrackHelpers[i].name;
  }
  return out;
}

}  // namespace vmgw
