// Shared by validate*.cpp (and the parser's key suggestions); not part of the model's API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/config.h"

namespace vmgw::detail {

// "; did you mean 'mac'?" if one of `candidates` is at most two edits away from `word`, else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string_view>& candidates);

std::string quote(std::string_view s);

// "'eth 0' is not a valid interface name: at most 15 characters of [A-Za-z0-9_.-]"
std::string bad_device(std::string_view name);

// Collects the validator's diagnostics and answers the lookups the checks share.
class Checker {
 public:
  explicit Checker(const Config& cfg) : config(cfg) {}

  // Appends "<origin.path>.<field>: <reason>" located at the field (or at the object).
  void error(const Origin& o, const std::string& field, std::string reason);

  // Reports a required field that is absent. A field whose key is present in the YAML but whose
  // value is absent failed to parse, and the parser has already said why. Returns `present`.
  bool require(const Origin& o, const std::string& field, bool present);

  // Checks 1 <= port <= 65535 and first <= last; returns true when the range is usable.
  bool check_ports(const Origin& o, const std::string& field, const PortRange& ports);

  // Checks a required object name: present, well-formed and unique among `all` (its kind).
  template <typename T>
  void check_name(const T& obj, const std::vector<T>& all, size_t index, std::string_view kind);

  // The first object of that name, or nullptr.
  const Uplink* uplink(std::string_view name) const;
  const Network* network(std::string_view name) const;
  const Vm* vm(std::string_view name);
  const ElasticIpPool* pool(std::string_view name) const;

  // "unknown network 'vmnett'; did you mean 'vmnet'?"
  template <typename T>
  std::string unknown(std::string_view kind, std::string_view name,
                      const std::vector<T>& all) const;

  // The first index in `all` whose key(all[i]) is `key` (keys that are "" are never indexed),
  // or SIZE_MAX: what a scan of the earlier objects for a duplicate would find, by hash. The
  // index of each list is built once, under `list` (a name per list checked).
  template <typename T, typename Key>
  size_t first_with(const std::string& list, const std::vector<T>& all, const std::string& key,
                    Key key_of);

  const Config& config;
  Diagnostics errors;

 private:
  std::unordered_map<std::string, std::unordered_map<std::string, size_t>> first_;
};

template <typename T, typename Key>
size_t Checker::first_with(const std::string& list, const std::vector<T>& all,
                           const std::string& key, Key key_of) {
  auto [it, fresh] = first_.try_emplace(list);
  if (fresh) {
    it->second.reserve(all.size());
    for (size_t i = 0; i < all.size(); ++i) {
      std::string k = key_of(all[i]);
      if (!k.empty()) it->second.try_emplace(std::move(k), i);
    }
  }
  auto hit = it->second.find(key);
  return hit == it->second.end() ? SIZE_MAX : hit->second;
}

// "vm 'web'", or the object's path when it has no name.
template <typename T>
std::string describe(std::string_view kind, const T& obj) {
  if (obj.name.empty()) return obj.origin.path;
  return std::string(kind) + " " + quote(obj.name);
}

template <typename T>
std::string Checker::unknown(std::string_view kind, std::string_view name,
                             const std::vector<T>& all) const {
  std::vector<std::string_view> names;
  for (const auto& o : all) names.push_back(o.name);
  return "unknown " + std::string(kind) + " " + quote(name) + did_you_mean(name, names);
}

template <typename T>
void Checker::check_name(const T& obj, const std::vector<T>& all, size_t index,
                         std::string_view kind) {
  if (!require(obj.origin, "name", !obj.name.empty())) return;
  if (!is_valid_object_name(obj.name)) {
    error(obj.origin, "name",
          quote(obj.name) +
              " is not a valid name: 1 to 32 characters of [a-z0-9_-], starting with a "
              "lower-case letter or digit");
    return;
  }
  const size_t j =
      first_with(std::string(kind) + " names", all, obj.name, [](const T& o) { return o.name; });
  if (j < index) {
    error(obj.origin, "name",
          std::string(kind) + " name " + quote(obj.name) + " is already used by " +
              all[j].origin.path);
  }
}

// One function per object kind; each appends to checker.errors.
void check_uplinks(Checker& c);
void check_networks(Checker& c);
void check_vms(Checker& c);
void check_port_forwards(Checker& c);
void check_elastic_ip_pools(Checker& c);
void check_elastic_ip_bindings(Checker& c);
void check_host(Checker& c);
// validate_uplinks.cpp
void check_uplink_routing(Checker& c);
void check_network_uplinks(Checker& c);
void check_dscp(Checker& c);
void check_libvirt(Checker& c);

}  // namespace vmgw::detail
