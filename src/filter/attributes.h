// Which attributes each protocol element accepts, and the type of each (libvirt's tables).
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "filter/model.h"

namespace vmgw::filter {

enum class ValueType {
  mac_addr,      // 00:11:22:33:44:55
  mac_mask,      // ff:ff:ff:00:00:00
  ipv4_addr,     // 10.1.2.3
  ipv4_mask,     // 255.255.248.0 or 0-32
  ipv6_addr,     // fe80::1
  ipv6_mask,     // ffff:ffff:fc00:: or 0-128
  uint,          // decimal or 0x hex, within [min, max]
  uint_or_word,  // as uint, or one of `words`
  boolean,       // true/yes/1/false/no/0
  string,        // free text up to max characters
  state_list,    // NEW,ESTABLISHED,RELATED,INVALID or NONE
  tcp_flags,     // mask/flags, each a list of SYN,ACK,URG,PSH,FIN,RST or NONE or ALL
  ipset_name,    // the name of an ipset
  ipset_flags,   // up to 6 of src/dst, comma separated
};

struct AttrSpec {
  std::string_view name;
  ValueType type;
  uint32_t min = 0;
  uint32_t max = 0;                              // for uint types; string max length for string
  bool hex = true;                               // uint types: 0x... accepted
  std::span<const std::string_view> words = {};  // uint_or_word: the accepted names

  bool is_mask() const { return type == ValueType::ipv4_mask || type == ValueType::ipv6_mask; }
};

// The attributes of a protocol element, in libvirt's documented order (not counting 'match').
std::span<const AttrSpec> attributes_of(Protocol p);
const AttrSpec* find_attribute(Protocol p, std::string_view name);

// Close names for an unknown one (edit distance <= 2), best first.
std::vector<std::string_view> similar_names(std::string_view name,
                                            std::span<const std::string_view> candidates);
std::vector<std::string_view> similar_attributes(Protocol p, std::string_view name);

}  // namespace vmgw::filter
