// The nftables objects of one vmgw table: sets/maps with their elements, chains with their rules.
// This is both what the compiler produces and what the kernel state is parsed into, so the diff
// compares like with like.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "nft/vocab.h"

namespace vmgw::nft {

struct Element {
  Json key;
  Json value;  // null for plain sets
  // The element's counter, as the kernel listed it (sets with `counter`); not part of its
  // identity.
  uint64_t packets = 0, bytes = 0;

  // A canonical string for comparisons ("key" or "key : value" as compact JSON).
  std::string canonical() const;
  bool operator==(const Element& o) const { return canonical() == o.canonical(); }
};

struct Set {
  std::string name;
  Json type;                       // "ipv4_addr" or ["ipv4_addr", "inet_proto", "inet_service"]
  Json map;                        // null for a set; "verdict", "ipv4_addr", ...
  std::vector<std::string> flags;  // "interval"
  std::string comment;             // shown in text output only
  std::vector<Element> elements;
  uint32_t size = 0;  // the most elements (0: the kernel's default)
  // The kernel adds the elements (a set statement in a rule, e.g. per-source flow counts):
  // the diff never touches them. Not part of the declaration the kernel lists back.
  bool filled_by_kernel = false;
  // Every element has a counter, counted by each lookup that finds it ("counter" in nft): per-VM
  // counts without a chain per VM.
  bool counter = false;

  bool is_map() const { return !map.is_null(); }
  // True if declarations match (name, type, map, flags, size, counter): elements can then be
  // diffed in place.
  bool same_declaration(const Set& o) const;
};

struct Hook {
  std::string type;    // filter, nat
  std::string hook;    // prerouting, input, forward, output, postrouting
  int priority = 0;    // numeric: dstnat = -100, filter = 0, srcnat = 100
  std::string policy;  // accept, drop
  auto operator<=>(const Hook&) const = default;
};

struct Rule {
  std::vector<Json> expr;
  std::string comment;    // what the rule is for, in the operator's words
  std::string listed_id;  // for rules read back from the kernel: the id found in the comment

  // Content identity: a hash of the expressions. Stored in the kernel as the tail of the rule's
  // comment ("... #1a2b3c4d5e6f") because libnftables' JSON cannot carry chain comments.
  std::string id() const;
  std::string kernel_comment() const;
};

struct Chain {
  std::string name;
  std::optional<Hook> hook;  // base chains only
  std::vector<Rule> rules;

  // The rule ids in order: two chains with the same signature hold the same rules.
  std::vector<std::string> signature() const;
};

// A conntrack helper object (`ct helper NAME { type "ftp" protocol tcp; l3proto ip; }`): rules
// attach it to a connection (`ct helper set "NAME"`), and the kernel's helper then follows the
// connection and expects its related ones (FTP data, TFTP transfers).
struct CtHelper {
  std::string name;      // "ftp"
  std::string type;      // the kernel's helper: "ftp", "tftp", "sip", "irc"
  std::string protocol;  // "tcp" or "udp"
  std::string l3proto = "ip";
  auto operator<=>(const CtHelper&) const = default;
};

struct Table {
  std::string family = "inet";
  std::string name = "vmgw";
  std::vector<CtHelper> helpers;
  std::vector<Set> sets;
  std::vector<Chain> chains;

  const Set* find_set(const std::string& n) const;
  const Chain* find_chain(const std::string& n) const;
};

// FNV-1a, 64 bit: content hashes (rule ids, shared chain names) stable across runs and
// platforms (std::hash is not).
uint64_t fnv1a(const std::string& s);

// Splits a kernel rule comment into (human comment, id); id is empty if there is none.
std::pair<std::string, std::string> split_kernel_comment(const std::string& comment);

// Text for a rule comment or a log prefix (names of the operator's filters end up there), at
// most `max_bytes`: what `nft list ruleset` would print in a way nft cannot read back is
// replaced (`"` by `'`, `$` -- a variable to nft -- by `_`, `\` by `/`, control bytes by `?`),
// and the cut falls between two UTF-8 characters, never inside one (the kernel keeps bytes, but
// JSON refuses a cut character).
std::string kernel_string(std::string_view text, size_t max_bytes);

// JSON command objects ({"add": {...}}) for one object.
Json add_table_cmd(const Table& t);
Json delete_table_cmd(const Table& t);
Json add_set_cmd(const Table& t, const Set& s);  // without elements
Json delete_set_cmd(const Table& t, const Set& s);
Json add_elements_cmd(const Table& t, const Set& s, const std::vector<Element>& e);
Json delete_elements_cmd(const Table& t, const Set& s, const std::vector<Element>& e);
Json add_helper_cmd(const Table& t, const CtHelper& h);
Json delete_helper_cmd(const Table& t, const CtHelper& h);
Json add_chain_cmd(const Table& t, const Chain& c);
Json flush_chain_cmd(const Table& t, const Chain& c);
Json delete_chain_cmd(const Table& t, const Chain& c);
Json add_rule_cmd(const Table& t, const Chain& c, const Rule& r);

// Every command needed to create `t` from nothing, in dependency order.
std::vector<Json> create_all_cmds(const Table& t);

}  // namespace vmgw::nft
