// The daemon's domain logic: every API change goes through one path — build the candidate state,
// validate it together with the topology, compile, open the store transaction, apply the delta
// to the kernel, commit. The kernel is written inside the open store transaction, so a change the
// kernel refuses is never stored, and a crash before commit leaves a kernel change that the next
// start reverts (the store is the truth).
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "apply/apply.h"
#include "backend/conntrack.h"
#include "backend/garp.h"
#include "compile/plan.h"
#include "model/config.h"
#include "store/state_store.h"

namespace vmgw::daemon {

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

struct VmRequest {
  std::string name;
  std::string network;
  Mac mac;
  std::optional<Ipv4> ip;  // the next free address of the subnet when absent
  std::string port;
};

struct RemovedVm {
  store::VmRecord vm;
  std::vector<store::EipRecord> unbound;       // elastic IPs it held (released if asked)
  std::vector<store::ForwardRecord> forwards;  // forwards to it, removed with it
};

struct Counters {
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
  // stored objects no longer fit the topology.
  ApplyReport start();
  // SIGHUP: a new topology, checked with the stored objects; on any error the old one stays.
  ApplyReport reload(Config topology);

  store::VmRecord add_vm(const VmRequest& req);
  RemovedVm remove_vm(const std::string& name, bool release);
  store::EipRecord allocate_eip(const std::optional<std::string>& pool,
                                std::optional<Ipv4> address);
  store::EipRecord bind_eip(Ipv4 address, const std::string& vm);
  store::EipRecord unbind_eip(Ipv4 address);
  store::EipRecord release_eip(Ipv4 address);
  store::ForwardRecord add_forward(const store::ForwardRecord& f);
  store::ForwardRecord remove_forward(Ipv4 address, Proto proto, uint32_t first_port);

  const store::StoredState& state() const { return state_; }
  const Config& topology() const { return topology_; }
  const Plan& plan() const { return plan_; }
  const Counters& counters() const { return counters_; }
  // One line: what the last start, reload or change did to the host.
  const std::string& last_apply() const { return last_apply_; }
  // The desired config (file + API objects) the plan in force was compiled from.
  const Config& desired() const { return desired_; }
  // Every VM (file-declared and API-created) of the desired config, for listings.
  const std::vector<Vm>& vms() const;
  store::StateStore& store() { return deps_.store; }

  // Lease events reported by dnsmasq.
  void record_lease_event(const store::LeaseEventRecord& e);

 private:
  // Validates `candidate`, writes it through `write` in a store transaction, applies the kernel
  // delta inside it and commits. On any failure the kernel is put back to the previous plan.
  // `subject` is the path of the object the request creates, so its errors name plain fields.
  ApplyReport commit(store::StoredState candidate,
                     const std::function<void(store::StoreTxn&)>& write,
                     const std::string& subject = "");
  Plan plan_for(const store::StoredState& s, const Config& topology,
                const std::string& subject = "") const;
  const store::VmRecord* stored_vm(const std::string& name) const;
  const store::EipRecord* stored_eip(Ipv4 address) const;
  // Deletes the flows of `vm_ip` through elastic IP `eip` (after a move or an unbind).
  void cut_flows(Ipv4 eip, Ipv4 vm_ip);

  Config topology_;
  Dependencies deps_;
  store::StoredState state_;
  Plan plan_;
  Config desired_;  // topology_ + state_, what plan_ was compiled from
  Counters counters_;
  std::string last_apply_;
};

}  // namespace vmgw::daemon
