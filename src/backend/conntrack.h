// Deleting the conntrack entries that a change revokes. When an elastic IP moves from one VM to
// another, established flows keep their old NAT binding until their conntrack entry goes away:
// the entries of flows DNATed to the old VM (orig_dst = EIP, reply_src = old VM) and of flows
// SNATed to the EIP (orig_src = old VM, reply_dst = EIP) must be deleted.
//
// Listing the flows of a VM and deleting exactly some of them: when a VM's filter is redefined,
// the flows it already accepted keep going through the `ct state established` rules until their
// entries go away, so the daemon lists the VM's flows and deletes those the new filter refuses.
//
// The real implementation speaks ctnetlink (libnetfilter_conntrack) in the calling process's
// network namespace.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/net.h"

namespace vmgw::backend {

// A socket failure or a kernel refusal; the message names the operation and the reason.
struct ConntrackError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Which entries to delete: every field that is set must match (IPv4 entries only). "orig" is
// the tuple of the first packet as it arrived, "reply" the tuple replies are expected with (after
// NAT): a flow DNATed from 203.0.113.17 to 10.10.0.11 has orig_dst 203.0.113.17 and reply_src
// 10.10.0.11. A filter with no field set is refused (it would flush the whole table).
struct ConntrackFilter {
  std::optional<Ipv4> orig_dst;
  std::optional<Ipv4> reply_src;
  std::optional<Ipv4> orig_src;
  std::optional<Ipv4> reply_dst;
  auto operator<=>(const ConntrackFilter&) const = default;
};

// The addresses of one IPv4 conntrack entry.
struct ConntrackEntry {
  Ipv4 orig_src;
  Ipv4 orig_dst;
  Ipv4 reply_src;
  Ipv4 reply_dst;
  auto operator<=>(const ConntrackEntry&) const = default;
};

// True if no field of `f` is set.
bool is_empty(const ConntrackFilter& f);
// True if every field set in `f` equals the entry's.
bool matches(const ConntrackFilter& f, const ConntrackEntry& e);
// "orig_dst=203.0.113.17 reply_src=10.10.0.11" (set fields only, in declaration order), "any"
// for an empty filter.
std::string describe(const ConntrackFilter& f);

// One IPv4 flow as conntrack holds it. The original tuple (proto, orig_*) identifies the flow.
// Ports are 0 for protocols without ports; for ICMP, orig_sport is the ICMP id and orig_dport
// is (type << 8) | code, likewise reply_sport/reply_dport for the reply tuple (an echo request
// 8/0 has orig_dport 0x0800 and reply_dport 0x0000, the echo reply).
struct ConntrackFlow {
  uint8_t proto = 0;  // IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP, ...
  Ipv4 orig_src, orig_dst;
  uint16_t orig_sport = 0, orig_dport = 0;
  Ipv4 reply_src, reply_dst;
  uint16_t reply_sport = 0, reply_dport = 0;
  std::string state;     // TCP state ("SYN_SENT", "ESTABLISHED", ...), "" for other protocols
  uint32_t timeout = 0;  // seconds left
  uint32_t mark = 0;
  bool assured = false;
  // 0 when accounting is off (net.netfilter.nf_conntrack_acct = 0).
  uint64_t packets_orig = 0, bytes_orig = 0, packets_reply = 0, bytes_reply = 0;
  auto operator<=>(const ConntrackFlow&) const = default;
};

// True if `a` is the flow's orig_src, orig_dst, reply_src or reply_dst.
bool involves(const ConntrackFlow& f, Ipv4 a);
// True if both have the same original tuple (proto, orig addresses and ports): the same flow.
bool same_flow(const ConntrackFlow& a, const ConntrackFlow& b);
// "tcp 10.10.0.11:41000 -> 192.0.2.10:443", "icmp 10.10.0.11 -> 192.0.2.10 type 8 code 0 id
// 7", "proto 47 10.10.0.11 -> 192.0.2.10" (the original tuple).
std::string describe(const ConntrackFlow& f);
// Fields: proto ("tcp", "udp", "icmp", or the protocol number), src, dst, sport,
// dport (the original tuple), reply_src, reply_dst, reply_sport, reply_dport, state, timeout,
// mark, assured, packets, bytes (both directions together); for ICMP also icmp_type,
// icmp_code and icmp_id (decoded from the original tuple).
nlohmann::json to_json(const ConntrackFlow& f);

class Conntrack {
 public:
  virtual ~Conntrack() = default;
  // Deletes every entry matching any of `filters`, in one walk of the table (the kernel walks
  // every bucket of its hash table for a dump, milliseconds however few entries there are), and
  // returns how many were deleted. Entries that vanish between the dump and the delete (ENOENT)
  // are not errors and are not counted. Throws ConntrackError for an empty filter, a socket
  // failure or a kernel refusal.
  virtual size_t delete_matching(const std::vector<ConntrackFilter>& filters) = 0;
  size_t delete_matching(const ConntrackFilter& f) { return delete_matching(std::vector{f}); }
  // Every IPv4 flow with `address` as orig_src, orig_dst, reply_src or reply_dst; every IPv4
  // flow for nullopt. In no particular order. Throws ConntrackError on a socket failure.
  virtual std::vector<ConntrackFlow> list(std::optional<Ipv4> address) = 0;
  // Deletes exactly these flows, identified by their original tuple (only proto and the orig_*
  // fields are read), and returns how many were deleted. A flow that is gone already (ENOENT:
  // expired or deleted meanwhile) is not an error and is not counted. Throws ConntrackError on
  // a socket failure or any other kernel refusal (the flows before it stay deleted).
  virtual size_t delete_flows(const std::vector<ConntrackFlow>& flows) = 0;
};

// ctnetlink in the current network namespace (one netlink socket per call).
std::unique_ptr<Conntrack> make_netlink_conntrack();

// In-memory Conntrack for unit tests, with two "tables" set up by the test: `entries` (bare
// addresses, for delete_matching) and `flows` (for list and delete_flows). delete_matching
// deletes the matching entries of both (and counts both), as the kernel would; delete_flows
// deletes from `flows` only (entries have no ports to identify a flow by).
class FakeConntrack : public Conntrack {
 public:
  using Conntrack::delete_matching;
  size_t delete_matching(const std::vector<ConntrackFilter>& filters) override;
  std::vector<ConntrackFlow> list(std::optional<Ipv4> address) override;
  size_t delete_flows(const std::vector<ConntrackFlow>& flows) override;

  // Every filter of every delete_matching call, in order (even of a call that threw).
  std::vector<ConntrackFilter> filters;
  std::vector<ConntrackEntry> entries;  // the "table" of delete_matching
  std::vector<ConntrackFlow> flows;     // the "table" of list and delete_flows, in table order
  // Every flow delete_flows was asked to delete, in order (even those not in the table, and
  // those of a call that threw).
  std::vector<ConntrackFlow> deletions;
  // When set, list and delete_flows throw ConntrackError(*error) before doing anything
  // (delete_flows still records its flows in `deletions`).
  std::optional<std::string> error;
};

}  // namespace vmgw::backend
