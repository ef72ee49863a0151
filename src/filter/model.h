// The per-VM filter model, in the words of libvirt's nwfilter XML that operators bring unchanged.
// Pure data: no XML here (parse.h reads it, serialize.h writes it). Everything an operator wrote
// is kept as written (raw text, attribute order, "given or defaulted") so that dumpxml gives back
// what was defined; typed views (variables, effective priorities) are derived from it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace vmgw::filter {

// Where an element was written (1-based line; 0 when it was not parsed from a file). Ignored by
// ==, so that a filter parsed from its own dumpxml compares equal to the original.
struct SourceLine {
  int line = 0;
  friend bool operator==(const SourceLine&, const SourceLine&) { return true; }
};

// The file a filter was read from (empty when not from a file). Ignored by == like SourceLine.
struct SourceFile {
  std::string path;
  friend bool operator==(const SourceFile&, const SourceFile&) { return true; }
};

enum class Action { accept, drop, reject, return_, continue_ };
enum class Direction { in, out, inout };

// The protocol elements of a <rule>. The *_ipv6 ones are spelled "tcp-ipv6" etc. in XML.
enum class Protocol {
  mac,
  vlan,
  stp,
  arp,
  rarp,
  ip,
  ipv6,
  tcp,
  udp,
  udplite,
  sctp,
  icmp,
  igmp,
  esp,
  ah,
  all,
  tcp_ipv6,
  udp_ipv6,
  udplite_ipv6,
  sctp_ipv6,
  icmpv6,
  esp_ipv6,
  ah_ipv6,
  all_ipv6,
};

std::string_view to_string(Action a);
std::string_view to_string(Direction d);
std::string_view to_string(Protocol p);  // the XML element name
std::optional<Action> parse_action(std::string_view s);
std::optional<Direction> parse_direction(std::string_view s);
std::optional<Protocol> parse_protocol(std::string_view element);
// True for ipv6 and the -ipv6 elements (IPv6 packets), false for the rest.
bool is_ipv6(Protocol p);

// A reference to a variable in an attribute value: $IP, $A[2] (element 2, 0-based), $A[@1]
// (iterator 1). Plain $A is libvirt's shorthand for iterator 0: $A[@0] is read as plain $A, as
// libvirt does (it writes both back as $A).
struct VariableRef {
  enum class Access { plain, index, iterator };
  std::string name;
  Access access = Access::plain;
  uint32_t number = 0;  // the index or the iterator id

  uint32_t iterator_id() const { return access == Access::iterator ? number : 0; }
  std::string str() const;  // "$A[@1]"
  bool operator==(const VariableRef&) const = default;
};

// The highest iterator id, $A[@1000] (libvirt's VIR_NWFILTER_MAX_ITERID).
inline constexpr uint32_t kMaxIteratorId = 1000;

// One attribute of a protocol element: the text as written, its variable reference if it is one,
// and whether it matches (false when the element has match='no' and the attribute can be
// negated; masks never are).
struct AttrValue {
  std::string raw;
  std::optional<VariableRef> var;
  bool match = true;
  bool operator==(const AttrValue&) const = default;
};

struct ProtocolMatch {
  Protocol protocol = Protocol::all;
  std::optional<bool> match;  // the match attribute as written: yes/no, or absent
  std::vector<std::pair<std::string, AttrValue>> attributes;  // in written order
  SourceLine where;

  const AttrValue* find(std::string_view name) const;
  bool negated() const { return match.has_value() && !*match; }
  bool operator==(const ProtocolMatch&) const = default;
};

inline constexpr int kMinPriority = -1000;
inline constexpr int kMaxPriority = 1000;
inline constexpr int kDefaultRulePriority = 500;

struct Rule {
  Action action = Action::accept;
  Direction direction = Direction::inout;
  std::optional<int> priority;         // absent: 500
  std::optional<bool> statematch;      // absent: true
  std::optional<bool> log;             // vmgw extension: log='yes' logs packets matching the rule
  std::vector<ProtocolMatch> matches;  // all of the same protocol; none: matches every packet
  SourceLine where;

  int effective_priority() const { return priority.value_or(kDefaultRulePriority); }
  bool effective_statematch() const { return statematch.value_or(true); }
  bool logs() const { return log.value_or(false); }
  bool operator==(const Rule&) const = default;
};

struct Parameter {
  std::string name;
  std::string value;
  bool operator==(const Parameter&) const = default;
};

struct FilterRef {
  std::string filter;
  std::vector<Parameter> parameters;  // in written order; a name may repeat (a list)
  SourceLine where;
  bool operator==(const FilterRef&) const = default;
};

using Entry = std::variant<Rule, FilterRef>;

struct Filter {
  std::string name;
  std::optional<std::string> chain;  // absent: root
  std::optional<int> priority;       // absent: the chain's default
  std::optional<std::string> uuid;   // as written
  std::vector<Entry> entries;        // rules and references, in written order
  SourceLine where;
  SourceFile file;

  std::string effective_chain() const { return chain.value_or("root"); }
  int effective_priority() const;
  bool operator==(const Filter&) const = default;
};

// The documented default priority of a chain, by its protocol prefix (stp -810, mac -800,
// vlan -750, ipv4 -700, ipv6 -600, arp -500, rarp -400, anything else 0).
int default_chain_priority(std::string_view chain);

// The protocol prefix of a valid chain name ("ipv4" for "ipv4-xyz"), "root" for root, or nullopt
// if the name is not a valid chain (wrong prefix, longer than 12, characters outside
// [A-Za-z0-9_.:-]). `why` receives the reason when invalid.
std::optional<std::string_view> chain_prefix(std::string_view chain, std::string* why = nullptr);

}  // namespace vmgw::filter
