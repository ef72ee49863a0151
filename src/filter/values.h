// Value syntax: variable references and the literal types of attribute values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "filter/attributes.h"
#include "filter/model.h"

namespace vmgw::filter {

// A variable name as libvirt accepts it: letters, digits and '_' (not starting with a digit).
bool is_variable_name(std::string_view s);

// Parses "$NAME", "$NAME[3]" or "$NAME[@2]". Text not starting with '$' is a literal: nullopt
// and no error. Text starting with '$' that is not a valid reference: nullopt and `error` set.
std::optional<VariableRef> parse_variable_ref(std::string_view text, std::string& error);

// Checks a literal against the attribute's type; returns the reason it is wrong, or "" if fine.
std::string check_literal(const AttrSpec& spec, std::string_view text);

// Integer value of a literal uint (decimal or 0x hex), if it is one.
std::optional<uint64_t> parse_uint(std::string_view text, bool hex_ok);

// The values of attributes that take a name or a number (case-insensitive names), shared by the
// nft compiler and the trace evaluator so that both read a filter the same way. nullopt when
// the text is neither.
std::optional<uint64_t> ether_type_value(std::string_view text);   // protocolid, encap-protocol
std::optional<uint64_t> ip_protocol_value(std::string_view text);  // protocol of <ip>/<ipv6>
std::optional<uint64_t> arp_opcode_value(std::string_view text);   // opcode (wire values)

// BOOLEAN: true/yes/1 or false/no/0.
std::optional<bool> parse_bool(std::string_view text);

}  // namespace vmgw::filter
