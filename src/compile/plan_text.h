// How a Plan is shown to an operator (`vmgw plan`) and stored in golden files.
#pragma once

#include <string>

#include "compile/plan.h"
#include "nft/vocab.h"

namespace vmgw {

// Human text: the nftables table in nft syntax, then links, addresses, routes, sysctls, DHCP.
std::string plan_text(const Plan& p);

// Machine form: {"nftables": <the batch that creates the table from nothing>, "links": ...}.
nft::Json plan_json(const Plan& p);

}  // namespace vmgw
