// One nftables JSON command in the operator's words ("add element 10.10.0.3 to map inet vmgw
// vm_egress"), so an error the kernel reports without a location can name what it refused.
#pragma once

#include <string>

#include "nft/vocab.h"

namespace vmgw::nft {

std::string describe_command(const Json& cmd);

}  // namespace vmgw::nft
