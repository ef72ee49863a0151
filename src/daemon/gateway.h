// The daemon's domain logic: every API change goes through one path — build the candidate state,
// validate it together with the topology, compile, open the store transaction, apply the delta
// to the kernel, commit. The kernel is written inside the open store transaction, so a change the
// kernel refuses is never stored, and a crash before commit leaves a kernel change that the next
// start reverts (the store is the truth).
#pragma once

#include <ctime>
#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "apply/apply.h"
#include "backend/conntrack.h"
#include "backend/garp.h"
#include "compile/plan.h"
#include "daemon/objects.h"
#include "filter/catalog.h"
#include "filter/evaluate.h"
#include "model/config.h"
#include "plan/live_plan.h"
#include "store/state_store.h"

namespace vmgw::daemon {

// The most set elements (a VM's addresses, its filters' own values, forwards, bindings) the
// gateway holds in total: at about 1 KiB each in vmgwd and the kernel, 1 GiB. docs/config.md.
inline constexpr size_t kMaxSetElementsTotal = 1'000'000;
inline constexpr size_t kLeaseEventsBetweenPrunes = 100;

// An error for the API: HTTP status and every (field, reason).
struct ServiceError : std::runtime_error {
  ServiceError(int code, std::vector<std::pair<std::string, std::string>> errors);
  ServiceError(int code, const std::string& field, const std::string& reason)
      : ServiceError(code, {{field, reason}}) {}
  int status;
  std::vector<std::pair<std::string, std::string>> errors;
};

struct Dependencies {
  store::StateStore& store;
  Backends& backends;
  backend::Conntrack& conntrack;
  backend::Announcer& announcer;
};

// A VM's interface changed in place (vm set): the fields given change, the others stay.
struct VmInterfaceChange {
  std::optional<Mac> mac;
  std::optional<Ipv4> ip;
  std::optional<std::string> port;  // "" unplugs: no bridge port
  // Its filters, in the same transaction (a VM followed from libvirt is plugged and filtered
  // at once: never a moment plugged without its filters).
  std::optional<std::vector<store::FilterBindingRecord>> filters;
};

struct VmRequest {
  std::string name;
  std::string network;
  Mac mac;
  std::optional<Ipv4> ip;  // the next free address of the subnet when absent
  std::string port;
  std::vector<store::FilterBindingRecord> filters;
  // An elastic IP to allocate and bind with the VM: a pool's name, "" for the first pool.
  std::optional<std::string> eip_pool;
  std::string owner;  // store::VmRecord::owner
};

// What defining or undefining a filter did (docs/filters.md, "Built-in filters").
enum class FilterOutcome {
  defined,           // a new filter
  redefined,         // an operator's filter replaced by another content
  unchanged,         // the same content as the filter in force: nothing was done
  replaces_builtin,  // the operator's filter now stands for the built-in of that name
  restores_builtin,  // the operator's replacement of a built-in is gone: the built-in is back
  undefined,         // the filter is gone
};
std::string_view to_string(FilterOutcome o);  // "defined", "replaces-builtin", ...

struct DefinedFilter {
  std::string name;
  bool replaced = false;  // a filter of that name was in force before (a built-in included)
  FilterOutcome outcome = FilterOutcome::defined;
  std::string builtin_difference;        // replaces_builtin: where it first differs from it
  std::vector<std::string> vms_updated;  // VMs whose rules changed with it
  size_t flows_cut = 0;                  // established flows the new rules no longer allow
};

// What self-healing of the host part should look at again (daemon/host_heal.h says when).
struct HealParts {
  bool net = false;      // links, bridge ports, addresses, nexthops, routes, rules
  bool sysctls = false;  // the sysctls the plan sets
  bool hosts = false;    // the DHCP hosts files
};

// What it put back.
struct HostHeal {
  std::vector<NetOp> net;
  std::vector<std::string> sysctls;      // "net.ipv4.ip_forward = 1"
  std::vector<std::string> hosts_files;  // networks whose hosts file was rewritten
  bool empty() const { return net.empty() && sysctls.empty() && hosts_files.empty(); }
};

// One rule's counters as the kernel holds them.
struct RuleStats {
  std::string layer;      // "l2" or "l3"
  std::string direction;  // "out" or "in"
  std::string chain;
  std::string rule;  // the rule's origin ("clean-traffic/no-mac-spoofing rule 1")
  uint64_t packets = 0, bytes = 0;
  size_t shared_by = 1;  // VMs whose identical filters share this chain (and its counters)
};

struct TraceResult {
  std::string verdict;             // accept, drop, reject
  std::string decided_by;          // the rule or policy that decided
  std::vector<std::string> steps;  // in order
};

struct RemovedVm {
  store::VmRecord vm;
  std::vector<store::EipRecord> unbound;       // elastic IPs it held (released if asked)
  std::vector<store::ForwardRecord> forwards;  // forwards to it, removed with it
};

// What a change of uplink health did: the routing converged to it, the flows cut, and lines
// for the daemon log ("uplink isp1 taken out: 12 flows through it cut").
struct UplinkHealthChange {
  ApplyReport report;
  size_t flows_cut = 0;
  std::vector<std::string> events;
};

struct Counters {
  // Objects put back after another program (or the kernel) changed them, by kind: "nftables"
  // (a transaction), "address", "route", "rule", "nexthop", "bridge_port", "link", "sysctl",
  // "hosts_file".
  std::map<std::string, uint64_t> self_heals;
  uint64_t applies = 0;
  uint64_t apply_errors = 0;
  uint64_t nft_transactions = 0;
  double apply_seconds = 0;
  uint64_t conntrack_deleted = 0;
};

class Gateway {
 public:
  // `topology` is the config file: uplinks, networks, pools, host protection.
  Gateway(Config topology, Dependencies deps);
  // Throws ServiceError (400) if the file declares VMs, forwards or bindings: with the daemon
  // those are API objects.
  static void check_topology(const Config& c);

  // Loads the store and converges the kernel to it (start-up). Throws ServiceError if the
  // stored objects no longer fit the topology. A VM whose stored filters no longer expand is
  // quarantined with them unbound instead (start_notes() says which and why).
  ApplyReport start();
  const std::vector<std::string>& start_notes() const { return start_notes_; }
  // SIGHUP: a new topology, checked with the stored objects; on any error the old one stays.
  ApplyReport reload(Config topology);

  // With req.eip_pool, an elastic IP of that pool ("" the first pool) is allocated and bound
  // to the VM in the same transaction.
  store::VmRecord add_vm(const VmRequest& req);
  RemovedVm remove_vm(const std::string& name, bool release);
  // Changes a VM's MAC, address or bridge port in place: its filters, elastic IP and forwards
  // stay (they follow a new address); flows of an old address are cut. 404, 409 (taken by
  // another VM) and 400 (not an address of its network) as vm add.
  store::VmRecord set_vm(const std::string& name, const VmInterfaceChange& change);
  store::EipRecord allocate_eip(const std::optional<std::string>& pool,
                                std::optional<Ipv4> address);
  store::EipRecord bind_eip(Ipv4 address, const std::string& vm);
  store::EipRecord unbind_eip(Ipv4 address);
  store::EipRecord release_eip(Ipv4 address);
  store::ForwardRecord add_forward(const store::ForwardRecord& f);
  store::ForwardRecord remove_forward(Ipv4 address, Proto proto, uint32_t first_port);

  // The bound on set elements in total (kMaxSetElementsTotal; tests lower it).
  void limit_set_elements(size_t n) { max_set_elements_ = n; }

  const store::StoredState& state() const { return objects_.state(); }
  const Config& topology() const { return topology_; }
  // The DHCP servers of the plan in force, with their reservations.
  const std::vector<DhcpServer>& dhcp_servers() const { return live_.dhcp(); }
  const Counters& counters() const { return counters_; }
  // One line: what the last start, reload or change did to the host.
  const std::string& last_apply() const { return last_apply_; }
  // The desired config (file + API objects) the plan in force was compiled from.
  const Config& desired() const { return objects_.desired(); }
  // Every VM (file-declared and API-created) of the desired config, in no order (listings sort).
  const std::vector<Vm>& vms() const { return objects_.desired().vms; }
  // One VM of the desired config, or nullptr (O(log N)).
  const Vm* find_vm(const std::string& name) const { return objects_.desired_vm(name); }
  // Whether vmgwd follows libvirt now (its VMs are changed in libvirt, not through the API).
  bool following_libvirt() const { return following_libvirt_; }
  void set_following_libvirt(bool f) { following_libvirt_ = f; }
  // One stored VM, or nullptr.
  const store::VmRecord* vm_record(const std::string& name) const { return objects_.vm(name); }
  // The elastic IP bound to `vm`, or nullptr.
  const store::EipRecord* eip_of(const std::string& vm) const { return objects_.eip_of_vm(vm); }
  store::StateStore& store() { return deps_.store; }

  // Self-healing: converges the host back to the plan in force (after another program changed
  // nftables, links or addresses). Writes nothing when the kernel already holds it.
  ApplyReport heal();
  // Whether the host may differ from the plan in force: a failed change could not be stepped
  // back at once (a full disk, a vanished device). The daemon's loop heals until it is not.
  bool host_behind() const { return host_behind_; }
  // Self-healing of the rest of the host (gateway_heal.cpp): the parts asked for, diffed against
  // the host part of the plan in force and put back; counted in counters().self_heals. Throws
  // backend::RtnlError / std::runtime_error when the kernel refuses (what ran before stays).
  HostHeal heal_host(HealParts parts);
  // A number that changes with the plan in force (what self-healing owns is cached by it).
  uint64_t plan_version() const { return live_.version(); }

  // Several uplinks (gateway_uplinks.cpp). The nexthop groups follow `health` (from the probes
  // and the links); flows pinned to an uplink taken out are cut, and with `failback:
  // immediate` those a network left for a better uplink.
  UplinkHealthChange set_uplink_health(UplinkConditions health);
  const UplinkConditions& uplink_health() const { return health_; }
  // The base of the plan in force: the topology's part, its routing among it (the uplinks with
  // their numbers, which uplinks each network uses now).
  const Plan& plan_base() const { return live_.base(); }
  const LivePlan& live_plan() const { return live_; }
  // Tracked flows pinned to each uplink (their conntrack mark), by uplink name.
  std::map<std::string, size_t> flows_per_uplink();

  // Lease events reported by dnsmasq.
  // Records one (validated) event; every kLeaseEventsBetweenPrunes events (or `keep`, if fewer),
  // prunes the log to the config's lease_events retention.
  void record_lease_event(const store::LeaseEventRecord& e);
  // Prunes the lease events to the retention (the newest `keep`, none older than max_age_days
  // before `now`); returns how many went. Also at start.
  size_t prune_lease_events(std::time_t now);
  bool serves_dhcp(const std::string& network) const;

  // Per-VM filters (gateway_filters.cpp). Defining a filter that VMs use updates all of them in
  // one transaction and cuts the established flows the new rules no longer allow.
  // Defines a filter from its XML. A built-in's name with the built-in's content (parsed and
  // compared, not as text) is `unchanged`; with another content it replaces the built-in until
  // undefined.
  DefinedFilter define_filter(const std::string& xml);
  // Removes a filter; for a replaced built-in, removes the replacement (the built-in is back).
  DefinedFilter undefine_filter(const std::string& name);
  // Every filter: built-ins (or the operator's replacements of them) and defined ones.
  const filter::FilterCatalog& filters() const { return catalog_; }
  // The VMs that reference `filter` directly or through other filters, sorted.
  std::vector<std::string> vms_using(const std::string& filter) const;
  store::VmRecord set_vm_filters(const std::string& vm,
                                 std::vector<store::FilterBindingRecord> filters);
  // Cuts all traffic of `vm` except to/from `allow_from` and deletes its flows; returns how many.
  size_t quarantine(const std::string& vm, std::vector<Cidr> allow_from);
  void unquarantine(const std::string& vm);
  std::vector<RuleStats> filter_stats(const std::string& vm);
  // The counters of the gateway's own rules, by name (host input and output, forwarding,
  // masquerade, DSCP), read from the kernel: the "firewall status" of `vmgw status`.
  struct NamedCounter {
    std::string chain, rule;
    uint64_t packets = 0, bytes = 0;
  };
  std::vector<NamedCounter> rule_counters();
  // Packets vmgw's log statements did not log, being over host.drop_log: the counter of the
  // log_suppressed chain of both tables (compile/drop_log.h), read from the kernel.
  uint64_t drop_log_suppressed();
  // What the filters, the quarantine and the gateway's policy decide for `p` of `vm`.
  TraceResult trace(const std::string& vm, filter::Packet p) const;
  // The VM owning an address, a MAC or a bridge port ("" if none): to name VMs in drop logs.
  // A filter rule's origin as the kernel names it in a program shared by several VMs ("filter 2
  // rule 1"), with the name of `vm`'s own filter put back ("web-in rule 1").
  std::string own_rule(const std::string& vm, const std::string& origin) const;
  std::string vm_of_ip(const std::string& ip) const;
  std::string vm_of_port(const std::string& port) const;
  // Where per-VM IP rules see bridged traffic, probed: "br_netfilter" when the kernel passes
  // bridged IPv4 to the inet hooks (conntrack works there), else "routed traffic only".
  std::string filter_path() const;

 private:
  // The elastic IP allocate_eip would take (validated, not committed).
  store::EipRecord pick_eip(const std::optional<std::string>& pool,
                            std::optional<Ipv4> address) const;
  // Gratuitous ARP for a newly bound address on its pool's uplink (best effort).
  void announce_eip(Ipv4 address);
  // Every change takes this path: the change's scope validated with the topology (400 with every
  // error), its objects compiled, the delta from the plan in force (LivePlan::step, no kernel
  // read), the store transaction written, the delta applied inside it, the transaction committed.
  // If a step after the kernel took the batch fails, the batch is undone (undo()) and the error
  // propagates; a refused batch changed nothing. `change` says what the operator asked for ("add
  // vm 'db'"): a kernel refusal names it and the command refused. `subject` is the path of the
  // object the request creates, so its validation errors name plain fields. With
  // `previous_catalog`, a change of filters leaves the catalog it replaced there.
  ApplyReport commit(const StateChange& c, const std::function<void(store::StoreTxn&)>& write,
                     const std::string& change, const std::string& subject = "",
                     filter::FilterCatalog* previous_catalog = nullptr);
  // Puts the host back to the plan in force after a change went in part of the way. Whatever
  // happens, the plan in memory is the objects in force again; when the host cannot be put back
  // now, host_behind() says so and "" is not returned: the reason it could not.
  std::string undo(const StateChange& c, const std::vector<std::string>& recompiled,
                   const std::vector<ObjectChange>& changes, const Plan* next_base,
                   const std::vector<std::string>& plugged);
  // The whole plan of `topology` and `state`: its base and each object's contribution. Throws
  // ServiceError (400) when they do not validate or instantiate.
  std::pair<Plan, std::vector<KeyedContribution>> whole_plan(const Config& topology,
                                                             const store::StoredState& state,
                                                             const filter::FilterCatalog& catalog);
  // start(), reload(), heal(): the whole plan of `topology` and `state`, diffed against what the
  // kernel holds, and the plan in force reset to it.
  ApplyReport converge(const Config& topology, const store::StoredState& state,
                       const filter::FilterCatalog& catalog);
  void count(const ApplyReport& report);  // an apply in the counters
  // The base of the plan for these flags (compiled once per topology).
  const Plan& base_for(CompileFlags flags);
  // Deletes the flows of `vm_ip` through elastic IP `eip` (after a move or an unbind).
  void cut_flows(Ipv4 eip, Ipv4 vm_ip);
  // Commits a change of one filter (`change` names it) and cuts the flows the rules of the VMs
  // using it no longer allow; fills `out`'s vms_updated and flows_cut.
  void apply_filter_change(const StateChange& change,
                           const std::function<void(store::StoreTxn&)>& write,
                           const std::string& what, DefinedFilter& out);
  // After a change of filters: deletes the flows of the VMs whose IP rules changed (`before`:
  // those VMs as they were, compiled with `before_catalog`) that the new rules would not accept
  // as new flows. Returns how many; `changed_vms` gets the VMs whose rules changed.
  std::vector<std::string> quarantine_unfit_filters(store::StoredState& state,
                                                    const filter::FilterCatalog& catalog);
  size_t cut_revoked_flows(const std::vector<Vm>& before,
                           const filter::FilterCatalog& before_catalog,
                           std::vector<std::string>* changed_vms);
  // `topology`'s uplinks as the links tell them, with the monitor's word where it has one.
  UplinkConditions conditions_for(const Config& topology) const;
  // Deletes the flows whose conntrack mark is `mark` (and whose source is in `from`).
  size_t cut_uplink_flows(uint32_t mark, std::optional<Cidr> from);
  // The filters of the store, parsed (a stored filter that no longer parses is a broken store).
  static filter::FilterCatalog catalog_of(const std::vector<store::FilterRecord>& filters);
  // The VMs that reference `filter` directly or through other filters of `catalog`, sorted.
  std::vector<std::string> vms_using(const std::string& filter,
                                     const filter::FilterCatalog& catalog) const;

  Config topology_;
  std::optional<Validated<Config>> valid_topology_;
  std::map<CompileFlags, Plan> bases_;  // base_for(), for valid_topology_
  Dependencies deps_;
  Objects objects_;                // the stored state and the desired config, with lookups
  filter::FilterCatalog catalog_;  // built-ins + the stored filters
  LivePlan live_;                  // the plan in force
  // The objects (object_key) whose nftables footprint the last commit changed: the VMs whose
  // flows a filter change may revoke.
  std::vector<std::string> changed_by_last_commit_;
  size_t max_set_elements_ = kMaxSetElementsTotal;
  bool host_behind_ = false;
  size_t lease_events_since_prune_ = 0;
  Counters counters_;
  bool following_libvirt_ = false;
  std::vector<std::string> start_notes_;
  std::string last_apply_;
  UplinkConditions health_;  // by uplink name; what the bases are compiled with
};

}  // namespace vmgw::daemon
