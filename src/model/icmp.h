// ICMP type and code names, as nftables knows them (`nft describe icmp type`, `icmp code`): the
// config takes a name or a number; the plan writes the name where nft has one, since nft lists
// known values by name and the diff compares what it reads back.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace vmgw {

// "echo-request" or "8" -> 8; nullopt for anything else (numbers 0-255).
std::optional<uint8_t> icmp_type_value(std::string_view text);
// "frag-needed" or "4" -> 4; nullopt for anything else (numbers 0-255).
std::optional<uint8_t> icmp_code_value(std::string_view text);
// 8 -> "echo-request"; nullopt where nft has no name.
std::optional<std::string> icmp_type_name(uint8_t type);
std::optional<std::string> icmp_code_name(uint8_t code);
// "echo-reply, destination-unreachable, ..." (for messages).
std::string icmp_type_names();
std::string icmp_code_names();

}  // namespace vmgw
