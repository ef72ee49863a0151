#include "model/icmp.h"

#include <array>
#include <charconv>
#include <utility>

namespace vmgw {
namespace {

using Names = std::pair<std::string_view, uint8_t>;

constexpr std::array<Names, 15> kTypes{{
    {"echo-reply", 0},
    {"destination-unreachable", 3},
    {"source-quench", 4},
    {"redirect", 5},
    {"echo-request", 8},
    {"router-advertisement", 9},
    {"router-solicitation", 10},
    {"time-exceeded", 11},
    {"parameter-problem", 12},
    {"timestamp-request", 13},
    {"timestamp-reply", 14},
    {"info-request", 15},
    {"info-reply", 16},
    {"address-mask-request", 17},
    {"address-mask-reply", 18},
}};

// nft's icmp_code names, whatever the type (code 4 reads "frag-needed" under any type).
constexpr std::array<Names, 8> kCodes{{
    {"net-unreachable", 0},
    {"host-unreachable", 1},
    {"prot-unreachable", 2},
    {"port-unreachable", 3},
    {"frag-needed", 4},
    {"net-prohibited", 9},
    {"host-prohibited", 10},
    {"admin-prohibited", 13},
}};

template <size_t N>
std::optional<uint8_t> value_of(const std::array<Names, N>& table, std::string_view text) {
  for (const auto& [name, value] : table)
    if (name == text) return value;
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || v > 255)
    return std::nullopt;
  return static_cast<uint8_t>(v);
}

template <size_t N>
std::optional<std::string> name_of(const std::array<Names, N>& table, uint8_t value) {
  for (const auto& [name, v] : table)
    if (v == value) return std::string(name);
  return std::nullopt;
}

template <size_t N>
std::string names_of(const std::array<Names, N>& table) {
  std::string out;
  for (const auto& [name, v] : table) out += (out.empty() ? "" : ", ") + std::string(name);
  return out;
}

}  // namespace

std::optional<uint8_t> icmp_type_value(std::string_view text) {
  return value_of(kTypes, text);
}
std::optional<uint8_t> icmp_code_value(std::string_view text) {
  return value_of(kCodes, text);
}
std::optional<std::string> icmp_type_name(uint8_t type) {
  return name_of(kTypes, type);
}
std::optional<std::string> icmp_code_name(uint8_t code) {
  return name_of(kCodes, code);
}
std::string icmp_type_names() {
  return names_of(kTypes);
}
std::string icmp_code_names() {
  return names_of(kCodes);
}

}  // namespace vmgw
