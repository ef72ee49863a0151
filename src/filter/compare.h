// Whether two definitions of a filter say the same thing. libvirt's filter files and vmgw's
// built-ins (and a filter and its dumpxml) are written differently: comments, whitespace, a
// uuid, attribute order, defaults written out (priority='500', chain='root'), 'FE80::' for
// 'fe80::', 'udp' for 17, a lone <mac/> for "every frame". None of that is content. What is:
// the name, the chain and its priority, and the entries in order, each rule with its action,
// direction, priority, statematch, logging and what it matches, each reference with its
// parameters.
#pragma once

#include <optional>
#include <string>

#include "filter/model.h"

namespace vmgw::filter {

// nullopt when `mine` and `theirs` have the same content; otherwise where they first differ, in
// the words of `mine` ("rule[2]: priority 100 instead of 500", "rule[1]: srcipaddr
// '10.0.0.1' instead of '10.0.0.2'", "2 entries instead of 3"). The uuid is not compared.
std::optional<std::string> first_difference(const Filter& mine, const Filter& theirs);

inline bool same_content(const Filter& a, const Filter& b) {
  return !first_difference(a, b).has_value();
}

}  // namespace vmgw::filter
