#include "filter/model.h"

#include <array>

namespace vmgw::filter {

namespace {

constexpr std::array<std::pair<Action, std::string_view>, 5> kActions{{
    {Action::accept, "accept"},
    {Action::drop, "drop"},
    {Action::reject, "reject"},
    {Action::return_, "return"},
    {Action::continue_, "continue"},
}};

constexpr std::array<std::pair<Direction, std::string_view>, 3> kDirections{{
    {Direction::in, "in"},
    {Direction::out, "out"},
    {Direction::inout, "inout"},
}};

constexpr std::array<std::pair<Protocol, std::string_view>, 24> kProtocols{{
    {Protocol::mac, "mac"},
    {Protocol::vlan, "vlan"},
    {Protocol::stp, "stp"},
    {Protocol::arp, "arp"},
    {Protocol::rarp, "rarp"},
    {Protocol::ip, "ip"},
    {Protocol::ipv6, "ipv6"},
    {Protocol::tcp, "tcp"},
    {Protocol::udp, "udp"},
    {Protocol::udplite, "udplite"},
    {Protocol::sctp, "sctp"},
    {Protocol::icmp, "icmp"},
    {Protocol::igmp, "igmp"},
    {Protocol::esp, "esp"},
    {Protocol::ah, "ah"},
    {Protocol::all, "all"},
    {Protocol::tcp_ipv6, "tcp-ipv6"},
    {Protocol::udp_ipv6, "udp-ipv6"},
    {Protocol::udplite_ipv6, "udplite-ipv6"},
    {Protocol::sctp_ipv6, "sctp-ipv6"},
    {Protocol::icmpv6, "icmpv6"},
    {Protocol::esp_ipv6, "esp-ipv6"},
    {Protocol::ah_ipv6, "ah-ipv6"},
    {Protocol::all_ipv6, "all-ipv6"},
}};

template <typename E, std::size_t N>
std::string_view name_of(const std::array<std::pair<E, std::string_view>, N>& table, E e) {
  for (const auto& [v, n] : table)
    if (v == e) return n;
  return "?";
}

template <typename E, std::size_t N>
std::optional<E> value_of(const std::array<std::pair<E, std::string_view>, N>& table,
                          std::string_view s) {
  for (const auto& [v, n] : table)
    if (n == s) return v;
  return std::nullopt;
}

// Chain prefixes and their default priorities, in libvirt's order of prefix matching.
constexpr std::array<std::pair<std::string_view, int>, 7> kChainPrefixes{{
    {"stp", -810},
    {"mac", -800},
    {"vlan", -750},
    {"ipv4", -700},
    {"ipv6", -600},
    {"arp", -500},
    {"rarp", -400},
}};

constexpr std::size_t kMaxChainName = 12;

}  // namespace

bool is_ipv6(Protocol p) {
  switch (p) {
    case Protocol::ipv6:
    case Protocol::tcp_ipv6:
    case Protocol::udp_ipv6:
    case Protocol::udplite_ipv6:
    case Protocol::sctp_ipv6:
    case Protocol::icmpv6:
    case Protocol::esp_ipv6:
    case Protocol::ah_ipv6:
    case Protocol::all_ipv6:
      return true;
    default:
      return false;
  }
}

std::string_view to_string(Action a) {
  return name_of(kActions, a);
}
std::string_view to_string(Direction d) {
  return name_of(kDirections, d);
}
std::string_view to_string(Protocol p) {
  return name_of(kProtocols, p);
}
std::optional<Action> parse_action(std::string_view s) {
  return value_of(kActions, s);
}
std::optional<Direction> parse_direction(std::string_view s) {
  return value_of(kDirections, s);
}
std::optional<Protocol> parse_protocol(std::string_view s) {
  return value_of(kProtocols, s);
}

std::string VariableRef::str() const {
  std::string out = "$" + name;
  if (access == Access::index) out += "[" + std::to_string(number) + "]";
  if (access == Access::iterator) out += "[@" + std::to_string(number) + "]";
  return out;
}

const AttrValue* ProtocolMatch::find(std::string_view n) const {
  for (const auto& [k, v] : attributes)
    if (k == n) return &v;
  return nullptr;
}

int Filter::effective_priority() const {
  return priority.value_or(default_chain_priority(effective_chain()));
}

int default_chain_priority(std::string_view chain) {
  for (const auto& [prefix, prio] : kChainPrefixes)
    if (chain.starts_with(prefix)) return prio;
  return 0;
}

std::optional<std::string_view> chain_prefix(std::string_view chain, std::string* why) {
  auto fail = [&](std::string reason) -> std::optional<std::string_view> {
    if (why) *why = std::move(reason);
    return std::nullopt;
  };
  if (chain.empty()) return fail("chain name is empty");
  if (chain.size() > kMaxChainName)
    return fail("chain name '" + std::string(chain) + "' is longer than " +
                std::to_string(kMaxChainName) + " characters");
  for (char c : chain) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) return fail("chain name '" + std::string(chain) + "' contains invalid characters");
  }
  if (chain == "root") return std::string_view("root");
  if (chain.starts_with("root"))
    return fail("chain 'root' cannot be used as a prefix ('" + std::string(chain) + "')");
  for (const auto& [prefix, prio] : kChainPrefixes)
    if (chain.starts_with(prefix)) return prefix;
  return fail("invalid chain '" + std::string(chain) +
              "': use 'root' or a name starting with mac, stp, vlan, arp, rarp, ipv4 or ipv6");
}

}  // namespace vmgw::filter
