#include "apply/down.h"

#include "compile/compile.h"

namespace vmgw {
namespace {

constexpr const char* kFamilies[] = {"inet", "bridge"};

// An empty plan: net_diff against it removes exactly what carries vmgw's marks.
std::vector<NetOp> removals(backend::Rtnl& rtnl) {
  return net_diff(Plan{}, read_net_state(rtnl));
}

// The families in which vmgw's table exists now.
std::vector<std::string> present_families(backend::NftBackend& nft) {
  std::vector<std::string> out;
  for (const char* family : kFamilies)
    if (nft.read_table(family, names::kTable)) out.emplace_back(family);
  return out;
}

std::vector<std::string> table_names(const std::vector<std::string>& families) {
  std::vector<std::string> out;
  for (const auto& f : families) out.push_back(f + " " + names::kTable);
  return out;
}

}  // namespace

std::string DownReport::summary() const {
  if (!changed()) return "nothing to remove: vmgw holds nothing on this host";
  std::string out = "removed:";
  std::string sep = " ";
  if (!tables.empty()) {
    out += sep + "nftables table" + (tables.size() == 1 ? " " : "s ");
    for (size_t i = 0; i < tables.size(); ++i) out += (i ? ", " : "") + tables[i];
    sep = "; ";
  }
  if (!net.empty()) {
    out += sep + std::to_string(net.size()) + " link/address/route change" +
           (net.size() == 1 ? "" : "s");
    sep = "; ";
  }
  for (const auto& n : dhcp) {
    out += sep + "dhcp " + n + " stopped";
    sep = "; ";
  }
  return out;
}

DownReport preview_down(Backends& b) {
  DownReport r;
  r.tables = table_names(present_families(b.nft));
  for (const auto& op : removals(b.rtnl)) r.net.push_back(op.str());
  return r;
}

DownReport take_down(Backends& b) {
  DownReport r;
  auto families = present_families(b.nft);
  r.tables = table_names(families);
  if (!families.empty()) {
    std::vector<nft::Json> cmds;
    for (const auto& family : families)
      cmds.push_back({{"delete", {{"table", {{"family", family}, {"name", names::kTable}}}}}});
    b.nft.apply(nft::Json{{"nftables", cmds}});
  }
  auto ops = removals(b.rtnl);
  for (const auto& op : ops) r.net.push_back(op.str());
  run_net_ops(ops, b.rtnl);
  r.dhcp = b.dhcp.stop_except({});
  return r;
}

}  // namespace vmgw
