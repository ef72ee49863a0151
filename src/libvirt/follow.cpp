#include "libvirt/follow.h"

#include <algorithm>
#include <map>
#include <set>

namespace vmgw::libvirt {
namespace {

constexpr std::string_view kOwnerPrefix = "libvirt:";

// The domain's name as a vmgw name: lower case, other characters '-', at most 25 characters (a
// second interface adds "-" and 6 hex digits of its MAC, within the 32 a name may have).
std::string vm_name_of(const std::string& domain) {
  std::string out;
  for (char ch : domain) {
    if (out.size() == 25) break;
    const bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    if (ch >= 'A' && ch <= 'Z')
      out += static_cast<char>(ch - 'A' + 'a');
    else
      out += ok ? ch : '-';
  }
  return out;
}

std::string mac_suffix(const Mac& m) {
  std::string s = m.str();  // aa:bb:cc:dd:ee:ff
  return s.substr(9, 2) + s.substr(12, 2) + s.substr(15, 2);
}

std::optional<Ipv4> ip_parameter(const std::vector<FilterRef>& filters) {
  for (const auto& f : filters)
    for (const auto& [name, value] : f.params)
      if (name == "IP") return Ipv4::parse(value);
  return std::nullopt;
}

std::vector<store::FilterBindingRecord> bindings(const std::vector<FilterRef>& filters) {
  std::vector<store::FilterBindingRecord> out;
  for (const auto& f : filters) out.push_back({f.filter, f.params});
  return out;
}

}  // namespace

std::string owner_of(const std::string& uuid) {
  return std::string(kOwnerPrefix) + uuid;
}

bool owned_by_libvirt(const std::string& owner) {
  return owner.starts_with(kOwnerPrefix);
}

std::string domain_of(const std::string& owner) {
  return owned_by_libvirt(owner) ? owner.substr(kOwnerPrefix.size()) : "";
}

DomainVms domain_vms(const Domain& d, bool running, const std::vector<FollowedNetwork>& followed) {
  DomainVms out;
  std::set<std::string> names;
  bool first = true;
  for (const Interface& i : d.interfaces) {
    auto net = std::find_if(followed.begin(), followed.end(),
                            [&](const FollowedNetwork& n) { return n.bridge == i.bridge; });
    if (i.bridge.empty() || net == followed.end()) continue;
    const std::string what = "domain '" + d.name + "' interface " + i.mac.str();
    auto meta = std::find_if(d.vmgw.begin(), d.vmgw.end(),
                             [&](const VmgwInterface& v) { return v.mac == i.mac; });
    const VmgwInterface* m = meta == d.vmgw.end() ? nullptr : &*meta;

    DomainVm vm;
    vm.network = net->name;
    vm.mac = i.mac;
    vm.port = running ? i.device : "";
    if (m && !m->name.empty()) {
      vm.name = m->name;
    } else {
      vm.name = vm_name_of(d.name);
      if (!first) vm.name += "-" + mac_suffix(i.mac);
    }
    first = false;
    std::vector<FilterRef> filters;
    if (m && !m->filters.empty()) {
      // libvirt and vmgw each enforcing a part would be half of each: refuse, say which to drop.
      if (i.libvirt_filter) {
        out.refused.push_back(what + ": both libvirt (<filterref filter='" +
                              i.libvirt_filter->filter +
                              "'> on the interface) and vmgw (its metadata) would filter it; "
                              "keep one of the two");
        continue;
      }
      filters = m->filters;
    } else if (i.libvirt_filter) {
      out.notices.push_back(what + ": filter '" + i.libvirt_filter->filter +
                            "' is enforced by libvirt's nwfilter, not by vmgw (move it into the "
                            "domain's vmgw metadata to have vmgw enforce it)");
    }
    if (running) vm.filters = bindings(filters);
    vm.ip = m && m->ip ? m->ip : ip_parameter(filters);
    if (!vm.ip && i.libvirt_filter) vm.ip = ip_parameter({*i.libvirt_filter});
    if (m) vm.eip_pool = m->eip_pool;
    if (!is_valid_object_name(vm.name)) {
      out.refused.push_back(what + ": '" + vm.name +
                            "' is not a valid VM name (1 to 32 characters of [a-z0-9_-]); give "
                            "one in the domain's vmgw metadata (<vmgw:interface name=...>)");
      continue;
    }
    if (!names.insert(vm.name).second) {
      out.refused.push_back(what + ": the VM name '" + vm.name +
                            "' is used by another interface of the domain");
      continue;
    }
    out.vms.push_back(std::move(vm));
  }
  return out;
}

std::vector<FollowChange> reconcile(const std::optional<DomainVms>& desired,
                                    const std::vector<store::VmRecord>& owned) {
  std::vector<FollowChange> removes, sets, adds;
  std::map<std::string, const DomainVm*> wanted;
  if (desired)
    for (const auto& v : desired->vms) wanted.emplace(v.name, &v);
  for (const auto& rec : owned) {
    auto it = wanted.find(rec.name);
    // A VM moved to another network is made again there (its address changes with it).
    if (it == wanted.end() || it->second->network != rec.network) {
      DomainVm gone;
      gone.name = rec.name;
      removes.push_back(
          {FollowChange::Kind::remove, gone,
           desired ? "its interface left the domain or a followed network" : "the domain is gone"});
      if (it != wanted.end())
        adds.push_back({FollowChange::Kind::add, *it->second, "moved network"});
      continue;
    }
    const DomainVm& vm = *it->second;
    std::string why;
    if (rec.port != vm.port)
      why = vm.port.empty() ? "unplugged (the domain is not running)" : "plugged into " + vm.port;
    else if (rec.mac != vm.mac || (vm.ip && *vm.ip != rec.ip))
      why = "its MAC or address changed";
    else if (rec.filters != vm.filters)
      why = "its filters changed";
    if (!why.empty()) sets.push_back({FollowChange::Kind::set, vm, why});
  }
  std::set<std::string> known;
  for (const auto& rec : owned) known.insert(rec.name);
  for (const auto& [name, vm] : wanted)
    if (!known.contains(name))
      adds.push_back({FollowChange::Kind::add, *vm,
                      vm->port.empty() ? "defined (not running)" : "plugged into " + vm->port});
  // Removals first: a MAC or a port a removed VM held may be what an added one needs.
  std::vector<FollowChange> out = std::move(removes);
  out.insert(out.end(), sets.begin(), sets.end());
  out.insert(out.end(), adds.begin(), adds.end());
  return out;
}

}  // namespace vmgw::libvirt
