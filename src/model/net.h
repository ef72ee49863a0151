// Value types for the addresses an operator writes: IPv4 addresses, prefixes, MACs, port ranges.
// Parsing is strict (no leading zeros, no shorthand) so that what reaches the kernel is exactly
// what the operator meant.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vmgw {

struct Ipv4 {
  uint32_t value = 0;  // host byte order

  // Parses dotted-quad "a.b.c.d"; nullopt on anything else.
  static std::optional<Ipv4> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const Ipv4&) const = default;
};

// An address with its prefix length as configured on an interface ("203.0.113.2/24"):
// host bits may be set.
struct InterfaceAddress {
  Ipv4 address;
  int prefix = 32;

  static std::optional<InterfaceAddress> parse(std::string_view text);
  std::string str() const;
  auto operator<=>(const InterfaceAddress&) const = default;
};

// A network prefix ("10.0.0.0/24"): host bits must be zero.
struct Cidr {
  Ipv4 network;
  int prefix = 32;

  // Parses "a.b.c.d/n"; nullopt if malformed or if host bits are set.
  static std::optional<Cidr> parse(std::string_view text);
  std::string str() const;
  uint32_t mask() const;
  bool contains(Ipv4 a) const;
  bool overlaps(const Cidr& other) const;
  Ipv4 first() const { return network; }
  Ipv4 last() const;
  auto operator<=>(const Cidr&) const = default;
};

struct Mac {
  std::array<uint8_t, 6> bytes{};

  // Parses "aa:bb:cc:dd:ee:ff" (either case, also '-' separators).
  static std::optional<Mac> parse(std::string_view text);
  std::string str() const;  // lower case, ':' separated
  bool is_multicast() const { return (bytes[0] & 1U) != 0; }
  bool is_zero() const;
  auto operator<=>(const Mac&) const = default;
};

enum class Proto { tcp, udp };
std::string_view to_string(Proto p);
// IANA protocol number (tcp 6, udp 17): what the kernel stores. nft prints names only when the
// host has /etc/protocols, so vmgw sends and compares numbers.
int protocol_number(Proto p);
std::optional<Proto> parse_proto(std::string_view text);

// A DSCP code point (0-63) by its name (cs0-cs7, af11-af43, ef, le, va: RFC 2474, 2597, 3246,
// 5865, 8622) or its number ("46").
std::optional<uint8_t> parse_dscp(std::string_view text);

struct PortRange {
  uint32_t first = 0;
  uint32_t last = 0;

  // Parses "80" or "8000-8010" without range checks (the validator reports 0, >65535, reversed).
  static std::optional<PortRange> parse(std::string_view text);
  uint32_t size() const { return last >= first ? last - first + 1 : 0; }
  bool overlaps(const PortRange& o) const { return first <= o.last && o.first <= last; }
  std::string str() const;
  auto operator<=>(const PortRange&) const = default;
};

// True if the kernel would accept `name` as a network device name: 1..15 bytes, not "." or
// "..", no '/', ':', whitespace or control characters. vmgw is stricter: [A-Za-z0-9_.-] only.
bool is_valid_device_name(std::string_view name);

// Object names (VMs, networks, uplinks, pools) end up in nft chain names and file names:
// [a-z0-9][a-z0-9_-]{0,31}.
bool is_valid_object_name(std::string_view name);

}  // namespace vmgw
