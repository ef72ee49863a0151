// One instantiated nwfilter rule -> nftables expressions. The meaning of every attribute is
// decided here (and mirrored by filter/evaluate.cpp for `vmgw trace`; the netns trace test holds
// the two together).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compile/drop_log.h"
#include "filter/program.h"
#include "nft/vocab.h"

namespace vmgw::compile_detail {

// A field whose value is the VM's own (Attr::per_vm): the compiled rule looks it up, with the
// VM's key, in a set of the rule, instead of naming the value.
struct HoistedField {
  nft::Json field;   // the packet field, typed (ip saddr, th dport, arp saddr ether, ...)
  std::string type;  // its nft type: ipv4_addr, ipv6_addr, ether_addr, inet_service
  size_t attr = 0;   // the index in ConcreteRule::attrs of the attribute giving its value
};

struct CompiledRule {
  std::vector<nft::Json> matches;    // the literal matches, its protocol's implied type first
  std::vector<HoistedField> fields;  // the hoisted ones, in the order of the set's key
};

// The matches of `r`, with the per-VM values of exact fields (addresses, MACs, single ports)
// hoisted while their key fits in `key_bytes` (the kernel's 64-byte register file, less the
// VM's own key; 0: nothing hoisted). nullopt when the rule can never match (state='NONE'), so it
// is left out. The hoisting depends on the attributes' names and flags only, never their values:
// rules that differ only in hoisted values compile to the same matches.
std::optional<CompiledRule> compile_rule(const filter::ConcreteRule& r, int key_bytes);

// A hoisted field's value, as a set element names it, from the attribute's text.
nft::Json hoisted_value(const std::string& type, const std::string& text);
// The bytes a field of that type takes in a concatenated key (registers of 4 bytes).
int key_bytes_of(const std::string& type);

// The match that sends frames into an l2 sub-chain by its name's prefix (mac: none).
std::vector<nft::Json> chain_guard(const std::string& chain);

// Where a rule comes from, as a program shared by several VMs names it: its origin, with the
// name of a filter the operator wrote at its top replaced by the binding's place ("filter 2 rule
// 1" for "web-in rule 1" bound second), since VMs with filters of different names but the same
// rules share the program. Built-in names stay. own_origin() gives the VM's name back.
std::string program_origin(const filter::ConcreteRule& r);
std::string own_origin(const std::string& program_origin,
                       const std::vector<std::string>& binding_filters);

// The statements ending a filter rule: its counter, then its verdict, or for a rule with
// log='yes' the jump to its log chain (drop_log.h), which logs within host.drop_log and gives
// the verdict.
struct RuleEnd {
  std::vector<nft::Json> statements;
  std::optional<nft::Chain> log_chain;
};
// `counted`: false for a rule whose set counts per VM (a counter on the rule too would be
// counted again for every packet, for nothing `vmgw filter stats` reads).
RuleEnd rule_statements(const filter::ConcreteRule& r, filter::Direction d,
                        const DropLogLimit& limit, bool counted = true);

}  // namespace vmgw::compile_detail
