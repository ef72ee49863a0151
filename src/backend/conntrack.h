// Deleting the conntrack entries that a change revokes. When an elastic IP moves from one VM to
// another, established flows keep their old NAT binding until their conntrack entry goes away:
// the entries of flows DNATed to the old VM (orig_dst = EIP, reply_src = old VM) and of flows
// SNATed to the EIP (orig_src = old VM, reply_dst = EIP) must be deleted.
//
// The real implementation speaks ctnetlink (libnetfilter_conntrack) in the calling process's
// network namespace.
#pragma once

#include <compare>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

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

class Conntrack {
 public:
  virtual ~Conntrack() = default;
  // Deletes every entry matching `f` and returns how many were deleted. Entries that vanish
  // between the dump and the delete (ENOENT) are not errors and are not counted. Throws
  // ConntrackError for an empty filter, a socket failure or a kernel refusal.
  virtual size_t delete_matching(const ConntrackFilter& f) = 0;
};

// ctnetlink in the current network namespace (one netlink socket per call).
std::unique_ptr<Conntrack> make_netlink_conntrack();

// In-memory Conntrack for unit tests: records every filter it is asked to delete with and
// deletes matching entries from `entries` (test setup), as the kernel would.
class FakeConntrack : public Conntrack {
 public:
  size_t delete_matching(const ConntrackFilter& f) override;

  std::vector<ConntrackFilter> filters;  // every call, in order (including those that threw)
  std::vector<ConntrackEntry> entries;   // the "table"
};

}  // namespace vmgw::backend
