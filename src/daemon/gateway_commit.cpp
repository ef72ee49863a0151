// How the Gateway changes the host: start, reload and heal converge the whole plan (diffed
// against what the kernel lists); an API change compiles only the objects it touches and applies
// the delta from the plan in force (LivePlan), so its cost follows the change, not the number
// of VMs. Either way: one kernel transaction, inside the store transaction, committed after.
#include <chrono>

#include "compile/compile.h"
#include "daemon/change_scope.h"
#include "daemon/desired.h"
#include "daemon/gateway.h"
#include "filter/builtins.h"
#include "filter/parse.h"
#include "model/validate.h"

namespace vmgw::daemon {
namespace {

// Errors from validating the desired config, as API errors. Errors about the object the request
// creates (`subject`, e.g. "vm 'web'") name the request's own field ("ip"); errors about other
// objects keep their full path.
std::vector<std::pair<std::string, std::string>> as_errors(const Diagnostics& d,
                                                           const std::string& subject) {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& e : d) {
    std::string field = e.path;
    if (!subject.empty() && field.rfind(subject + ".", 0) == 0)
      field = field.substr(subject.size() + 1);
    if (!e.where.file.empty())
      field = e.where.file + ":" + std::to_string(e.where.line) + ": " + field;
    out.emplace_back(field, e.reason);
  }
  return out;
}

Validated<Config> valid_or_400(Config c, const std::string& subject) {
  auto result = validate(std::move(c));
  if (auto* d = std::get_if<Diagnostics>(&result)) throw ServiceError(400, as_errors(*d, subject));
  return std::get<Validated<Config>>(std::move(result));
}

std::vector<const Contribution*> in_order(const std::vector<KeyedContribution>& all) {
  std::vector<const Contribution*> out;
  out.reserve(all.size());
  for (const auto& k : all) out.push_back(&k.contribution);
  return out;
}

// One change per key of the scope: the new contribution, or its absence (the object goes).
std::vector<ObjectChange> object_changes(std::vector<KeyedContribution> compiled,
                                         const std::set<std::string>& keys) {
  std::vector<ObjectChange> out;
  out.reserve(keys.size());
  std::set<std::string> present;
  for (auto& k : compiled) {
    if (!keys.count(k.key)) continue;
    present.insert(k.key);
    out.push_back({k.key, std::move(k.contribution)});
  }
  for (const auto& key : keys)
    if (!present.count(key)) out.push_back({key, std::nullopt});
  return out;
}

bool filters_change(const StateChange& c) {
  return !c.put_filters.empty() || !c.removed_filters.empty();
}

// Stored filters were parsed when defined; one that no longer parses is a broken store.
filter::Filter parsed(const store::FilterRecord& rec) {
  auto p = filter::parse_filter_xml(rec.xml, "");
  if (!p.ok())
    throw ServiceError(500, "filters", "stored filter '" + rec.name + "' does not parse");
  return std::move(*p.filter);
}

}  // namespace

filter::FilterCatalog Gateway::catalog_of(const std::vector<store::FilterRecord>& filters) {
  filter::FilterCatalog cat = filter::builtin_catalog();
  for (const auto& rec : filters) cat.add_or_replace(parsed(rec));
  return cat;
}

const Plan& Gateway::base_for(CompileFlags flags) {
  auto it = bases_.find(flags);
  if (it == bases_.end())
    it = bases_.emplace(flags, compile_base(*valid_topology_, flags, health_)).first;
  return it->second;
}

std::pair<Plan, std::vector<KeyedContribution>> Gateway::whole_plan(
    const Config& topology, const store::StoredState& state, const filter::FilterCatalog& catalog) {
  auto valid_topology = valid_or_400(topology, "");
  auto config = valid_or_400(desired_config(topology, state), "");
  Diagnostics filter_errors;
  auto all = contributions(config, catalog, nullptr, &filter_errors);
  if (!filter_errors.empty()) throw ServiceError(400, as_errors(filter_errors, ""));
  return {compile_base(valid_topology, flags_of(all), health_), std::move(all)};
}

ApplyReport Gateway::converge(const Config& topology, const store::StoredState& state,
                              const filter::FilterCatalog& catalog) {
  auto [base, all] = whole_plan(topology, state, catalog);
  Plan whole = base;
  add_contributions(whole, in_order(all));
  auto report = apply(whole, deps_.backends);
  // The host holds the whole plan: it is the plan in force.
  valid_topology_ = valid_or_400(topology, "");
  topology_ = topology;
  bases_.clear();
  live_.reset(std::move(base), all);
  host_behind_ = false;
  return report;
}

void Gateway::count(const ApplyReport& report) {
  ++counters_.applies;
  if (!report.nft.empty()) ++counters_.nft_transactions;
}

// A stored VM whose filters no longer expand (a vmgw that follows libvirt more closely refuses
// what an older one took, e.g. plain lists of different lengths in one rule) must not keep the
// daemon from starting: the operator could then fix nothing. It is cut instead of left open:
// quarantined (management sources it had kept) with those bindings removed, in one stored
// change, and said in the log with the reason; binding fixed filters and lifting the quarantine
// brings it back.
std::vector<std::string> Gateway::quarantine_unfit_filters(store::StoredState& state,
                                                           const filter::FilterCatalog& catalog) {
  std::vector<std::string> said;
  const Config desired = desired_config(topology_, state);
  std::vector<store::VmRecord*> unfit;
  for (auto& rec : state.vms) {
    if (rec.filters.empty()) continue;
    auto inst = instantiate_vm(desired, to_vm(rec, vm_path(rec.name)), catalog);
    if (inst.ok()) continue;
    std::string why = inst.errors.front().str();
    std::string bound;
    for (const auto& b : rec.filters) bound += (bound.empty() ? "" : ", ") + b.filter;
    said.push_back(vm_path(rec.name) + " is quarantined and its filters (" + bound +
                   ") unbound: they no longer expand: " + why +
                   " (bind fixed filters, then lift the quarantine)");
    unfit.push_back(&rec);
  }
  if (unfit.empty()) return said;
  auto txn = deps_.store.begin();
  for (auto* rec : unfit) {
    rec->filters.clear();
    if (!rec->quarantine) rec->quarantine = store::QuarantineRecord{};
    txn->set_vm_filters(rec->name, {});
    txn->set_vm_quarantine(rec->name, rec->quarantine);
  }
  txn->set_generation(++state.generation);
  txn->commit();
  return said;
}

ApplyReport Gateway::start() {
  check_topology(topology_);
  auto state = deps_.store.load();
  auto catalog = catalog_of(state.filters);
  start_notes_ = quarantine_unfit_filters(state, catalog);
  health_ = conditions_for(topology_);
  auto report = converge(topology_, state, catalog);
  objects_.reset(topology_, std::move(state));
  catalog_ = std::move(catalog);
  count(report);
  last_apply_ = report.summary();
  return report;
}

ApplyReport Gateway::heal() {
  // The kernel changed behind our back: diff the whole plan against what it holds now.
  auto report = converge(topology_, objects_.state(), catalog_);
  if (!report.nft.empty()) ++counters_.self_heals["nftables"];
  if (report.changed()) {
    count(report);
    last_apply_ = "restored: " + report.summary();
  }
  return report;
}

ApplyReport Gateway::reload(Config topology) {
  check_topology(topology);
  auto health = health_;
  health_ = conditions_for(topology);  // new uplinks from their links, known ones as they are
  ApplyReport report;
  try {
    report = converge(topology, objects_.state(), catalog_);
  } catch (...) {
    health_ = std::move(health);  // the previous topology stays in force, with its health
    throw;
  }
  objects_.reset(topology_, objects_.state());
  count(report);
  last_apply_ = report.summary();
  return report;
}

ApplyReport Gateway::commit(const StateChange& c,
                            const std::function<void(store::StoreTxn&)>& write,
                            const std::string& change, const std::string& subject,
                            filter::FilterCatalog* previous_catalog) {
  const auto started = std::chrono::steady_clock::now();
  ApplyReport report;
  std::optional<filter::FilterCatalog> next_catalog;
  try {
    // A step assumes the host holds the plan in force: after a change that could not be put
    // back, the host is converged first (and the change refused while it cannot be).
    if (host_behind_) heal();
    // The filters after the change, and the VMs whose rules it may change (a copy of the
    // catalog only when filters change).
    std::vector<std::string> recompiled;
    if (filters_change(c)) {
      next_catalog = catalog_;
      std::set<std::string> names, users;
      for (const auto& f : c.put_filters) {
        next_catalog->add_or_replace(parsed(f));
        names.insert(f.name);
      }
      for (const auto& name : c.removed_filters) {
        // Removing the operator's replacement of a built-in brings the built-in back.
        if (const filter::Filter* builtin = filter::shipped_builtin(name))
          next_catalog->add_or_replace(*builtin);
        else
          next_catalog->remove(name);
        names.insert(name);
      }
      for (const auto& name : names)
        for (const auto* cat : {&catalog_, &*next_catalog})
          for (auto& v : vms_using(name, *cat)) users.insert(std::move(v));
      recompiled.assign(users.begin(), users.end());
    }
    const filter::FilterCatalog& catalog = next_catalog ? *next_catalog : catalog_;

    // Validate the scope; a refusal, or a rule only the whole config can check, is decided by
    // the whole config (O(N), so that its messages are exactly the whole config's).
    ChangeScope scope = change_scope(topology_, objects_, c, recompiled);
    std::optional<Validated<Config>> valid;
    if (!scope.needs_whole) {
      auto result = validate(scope.config);
      if (auto* v = std::get_if<Validated<Config>>(&result)) valid = std::move(*v);
    }
    if (!valid) valid = valid_or_400(desired_after(topology_, objects_, c), subject);
    Diagnostics filter_errors;
    auto compiled = contributions(*valid, catalog, &scope.keys, &filter_errors);
    if (!filter_errors.empty()) throw ServiceError(400, as_errors(filter_errors, subject));
    const auto changes = object_changes(std::move(compiled), scope.keys);
    // The total the kernel and vmgwd hold for VMs, forwards and bindings is bounded too: a change
    // that grows it past the limit is refused (one that shrinks it always passes).
    if (const size_t after = live_.elements_after(changes);
        after > max_set_elements_ && after > live_.elements())
      throw ServiceError(413, subject.empty() ? "change" : subject,
                         "over the limit set_elements_total (" + std::to_string(max_set_elements_) +
                             "): the gateway would hold " + std::to_string(after) +
                             " set elements for its VMs, forwards and elastic IPs");

    const CompileFlags flags = live_.flags_after(changes);
    const Plan* next_base = flags == live_.flags() ? nullptr : &base_for(flags);
    const PlanDelta delta = live_.step(changes, next_base);

    const uint64_t generation = objects_.state().generation + 1;
    auto txn = deps_.store.begin();
    write(*txn);
    txn->set_generation(generation);
    bool written = false;
    std::vector<std::string> plugged;
    try {
      report = apply_delta(delta, deps_.backends, written, &plugged);
      txn->commit();
    } catch (const std::exception& e) {
      // A refused batch changed nothing; a later failure leaves part of the change on the host.
      if (!written) throw;
      const std::string behind = undo(c, recompiled, changes, next_base, plugged);
      if (behind.empty()) throw;
      ++counters_.apply_errors;
      throw ServiceError(500, "",
                         "could not " + change + ": " + e.what() +
                             "; the previous state is in force in vmgwd, and the host is being "
                             "put back to it (not yet: " +
                             behind + ")");
    }
    changed_by_last_commit_ = live_.commit(changes, next_base);
    objects_.apply(c);
    objects_.set_generation(generation);
  } catch (const ServiceError&) {
    ++counters_.apply_errors;
    throw;
  } catch (const store::StoreConflict& e) {
    ++counters_.apply_errors;
    throw ServiceError(409, "", e.what());
  } catch (const backend::NftError& e) {
    ++counters_.apply_errors;
    // Name what was asked and what the kernel refused: "the kernel refused to add vm 'db':
    // add element 10.10.0.3 to set inet vmgw vm_flows (command 4 of 9): Error: ...".
    throw ServiceError(
        500, "",
        "the kernel refused to " + change + ": " + e.what() + "; the previous state is in force");
  } catch (const std::exception& e) {
    ++counters_.apply_errors;
    throw ServiceError(
        500, "", "could not " + change + ": " + e.what() + "; the previous state is in force");
  }
  if (next_catalog) {
    if (previous_catalog) *previous_catalog = std::move(catalog_);
    catalog_ = std::move(*next_catalog);
  }
  count(report);
  counters_.apply_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  last_apply_ = report.summary();
  return report;
}

std::string Gateway::undo(const StateChange& c, const std::vector<std::string>& recompiled,
                          const std::vector<ObjectChange>& changes, const Plan* next_base,
                          const std::vector<std::string>& plugged) {
  const CompileFlags flags_in_force = live_.flags();
  std::string why;
  // A port the change plugged into a bridge leaves it: a refused VM's tap must not be on the
  // VM network, unfiltered. (Removing a VM leaves its port alone: the port is the VM's own.)
  for (const auto& port : plugged) {
    if (!vm_of_port(port).empty()) continue;
    try {
      deps_.backends.rtnl.release_port(port);
    } catch (const std::exception& e) {
      why = e.what();
    }
  }
  try {
    // The host holds (some of) the change: make it the plan, then step back to the objects in
    // force, compiled again (their footprints do not keep their rules).
    live_.commit(changes, next_base);
    ChangeScope back = change_scope(topology_, objects_, c, recompiled, true);
    auto result = validate(back.config);
    auto* valid = std::get_if<Validated<Config>>(&result);
    if (!valid) throw std::logic_error("the objects in force do not validate");
    auto back_changes = object_changes(contributions(*valid, catalog_, &back.keys), back.keys);
    const Plan* base = next_base ? &base_for(flags_in_force) : nullptr;
    bool written = false;
    const PlanDelta delta = live_.step(back_changes, base);
    // The plan in memory is the objects in force from here on, whether the host takes the
    // step back or not: a refused change must not live on in it (its reservation would be
    // handed to the next change).
    live_.commit(back_changes, base);
    apply_delta(delta, deps_.backends, written);
    return "";
  } catch (const std::exception& e) {
    why = e.what();
  }
  // Last resort: the whole plan in force, diffed against what the host holds. Should that fail
  // too (the disk is still full), the plan in memory is still put back, and the daemon's loop
  // retries the host (host_behind()).
  host_behind_ = true;
  try {
    converge(topology_, objects_.state(), catalog_);
    return "";
  } catch (const std::exception& e) {
    why = e.what();
  }
  try {
    auto [base, all] = whole_plan(topology_, objects_.state(), catalog_);
    live_.reset(std::move(base), all);
  } catch (const std::exception& e) {
    why += "; and the plan in force does not compile: " + std::string(e.what());
  }
  return why;
}

}  // namespace vmgw::daemon
