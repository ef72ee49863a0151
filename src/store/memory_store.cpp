// StateStore in memory, for tests: the same semantics as the SQLite store. A transaction works on
// a copy of the committed state and swaps it in on commit(); load() sees committed state only.

#include <algorithm>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/common.h"
#include "store/state_store.h"

namespace vmgw::store {
namespace {

struct Shared {
  std::mutex mu;
  StoredState committed;
  std::vector<LeaseEventRecord> events;
  bool txn_open = false;
};

class MemoryTxn final : public StoreTxn {
 public:
  MemoryTxn(Shared& shared, StoredState work) : shared_(shared), work_(std::move(work)) {}
  ~MemoryTxn() override {
    std::lock_guard<std::mutex> guard(shared_.mu);
    if (!finished_) shared_.txn_open = false;  // rollback: drop the copy
  }
  MemoryTxn(const MemoryTxn&) = delete;
  MemoryTxn& operator=(const MemoryTxn&) = delete;

  void add_vm(const VmRecord& vm) override {
    check_open();
    for (const auto& v : work_.vms) {
      if (v.name == vm.name) throw StoreConflict(detail::vm_exists(vm.name));
    }
    for (const auto& v : work_.vms) {
      if (v.mac == vm.mac) throw StoreConflict(detail::mac_taken(vm.mac, v.name));
    }
    for (const auto& v : work_.vms) {
      if (v.ip == vm.ip) throw StoreConflict(detail::ip_taken(vm.ip, v.name));
    }
    detail::check_quarantine(vm.name, vm.quarantine);
    work_.vms.push_back(vm);
  }

  void delete_vm(const std::string& name) override {
    check_open();
    std::vector<Ipv4> eips;
    for (const auto& e : work_.eips) {
      if (e.vm == name) eips.push_back(e.address);
    }
    StoredState refs;
    for (const auto& f : work_.forwards) {
      if (f.vm == name) refs.forwards.push_back(f);
    }
    if (!eips.empty() || !refs.forwards.empty()) {
      std::sort(eips.begin(), eips.end());
      detail::sort_state(refs);
      throw StoreConflict(detail::vm_referenced(name, eips, refs.forwards));
    }
    std::erase_if(work_.vms, [&](const VmRecord& v) { return v.name == name; });
  }

  void put_filter(const FilterRecord& f) override {
    check_open();
    for (auto& g : work_.filters) {
      if (g.name == f.name) {
        g = f;
        return;
      }
    }
    work_.filters.push_back(f);
  }

  void delete_filter(const std::string& name) override {
    check_open();
    std::erase_if(work_.filters, [&](const FilterRecord& f) { return f.name == name; });
  }

  void set_vm_filters(const std::string& vm,
                      const std::vector<FilterBindingRecord>& filters) override {
    check_open();
    VmRecord* v = find_vm(vm);
    if (v == nullptr) throw StoreError(detail::no_such_vm_to_set("filters", vm));
    v->filters = filters;
  }

  void set_vm_interface(const std::string& vm, Mac mac, Ipv4 ip, const std::string& port) override {
    check_open();
    VmRecord* v = find_vm(vm);
    if (v == nullptr) throw StoreError(detail::no_such_vm_to_set("interface", vm));
    for (const auto& o : work_.vms) {
      if (o.name == vm) continue;
      if (o.mac == mac) throw StoreConflict(detail::mac_taken(mac, o.name));
      if (o.ip == ip) throw StoreConflict(detail::ip_taken(ip, o.name));
    }
    v->mac = mac;
    v->ip = ip;
    v->port = port;
  }

  void set_vm_quarantine(const std::string& vm, const std::optional<QuarantineRecord>& q) override {
    check_open();
    VmRecord* v = find_vm(vm);
    if (v == nullptr) throw StoreError(detail::no_such_vm_to_set("quarantine", vm));
    detail::check_quarantine(vm, q);
    v->quarantine = q;
  }

  void add_eip(const EipRecord& eip) override {
    check_open();
    if (find_eip(eip.address)) throw StoreConflict(detail::eip_allocated(eip.address));
    if (!eip.vm.empty() && !has_vm(eip.vm)) {
      throw StoreError(detail::no_such_vm("elastic IP " + eip.address.str(), eip.vm));
    }
    work_.eips.push_back(eip);
  }

  void set_eip_vm(Ipv4 address, const std::string& vm) override {
    check_open();
    if (!vm.empty() && !has_vm(vm)) {
      throw StoreError(detail::no_such_vm("elastic IP " + address.str(), vm));
    }
    EipRecord* eip = find_eip(address);
    if (eip == nullptr) throw StoreError(detail::eip_not_allocated(address));
    eip->vm = vm;
  }

  void delete_eip(Ipv4 address) override {
    check_open();
    std::erase_if(work_.eips, [&](const EipRecord& e) { return e.address == address; });
  }

  void add_forward(const ForwardRecord& f) override {
    check_open();
    for (const auto& g : work_.forwards) {
      if (same_forward(g, f.public_address, f.proto, f.public_ports.first)) {
        throw StoreConflict(detail::forward_exists(f));
      }
    }
    if (!has_vm(f.vm)) {
      throw StoreError(detail::no_such_vm(
          "port forward " + detail::forward_name(f.public_address, f.proto, f.public_ports), f.vm));
    }
    work_.forwards.push_back(f);
  }

  void delete_forward(Ipv4 address, Proto proto, uint32_t first_port) override {
    check_open();
    std::erase_if(work_.forwards, [&](const ForwardRecord& g) {
      return same_forward(g, address, proto, first_port);
    });
  }

  void set_generation(uint64_t generation) override {
    check_open();
    work_.generation = generation;
  }

  void commit() override {
    check_open();
    detail::sort_state(work_);
    std::lock_guard<std::mutex> guard(shared_.mu);
    shared_.committed = std::move(work_);
    shared_.txn_open = false;
    finished_ = true;
  }

 private:
  void check_open() const {
    if (finished_) throw StoreError(detail::txn_finished());
  }
  bool has_vm(const std::string& name) const {
    return std::any_of(work_.vms.begin(), work_.vms.end(),
                       [&](const VmRecord& v) { return v.name == name; });
  }
  VmRecord* find_vm(const std::string& name) {
    for (auto& v : work_.vms) {
      if (v.name == name) return &v;
    }
    return nullptr;
  }
  EipRecord* find_eip(Ipv4 address) {
    for (auto& e : work_.eips) {
      if (e.address == address) return &e;
    }
    return nullptr;
  }
  static bool same_forward(const ForwardRecord& g, Ipv4 address, Proto proto, uint32_t first) {
    return g.public_address == address && g.proto == proto && g.public_ports.first == first;
  }

  Shared& shared_;
  StoredState work_;
  bool finished_ = false;
};

class MemoryStore final : public StateStore {
 public:
  StoredState load() override {
    std::lock_guard<std::mutex> guard(shared_.mu);
    return shared_.committed;
  }

  std::unique_ptr<StoreTxn> begin() override {
    std::lock_guard<std::mutex> guard(shared_.mu);
    if (shared_.txn_open) throw StoreError(detail::txn_already_open());
    auto txn = std::make_unique<MemoryTxn>(shared_, shared_.committed);
    shared_.txn_open = true;
    return txn;
  }

  void append_lease_event(const LeaseEventRecord& e) override {
    std::lock_guard<std::mutex> guard(shared_.mu);
    if (shared_.txn_open) throw StoreError(detail::lease_event_in_txn());
    shared_.events.push_back(e);
  }

  size_t prune_lease_events(size_t keep, const std::string& oldest) override {
    std::lock_guard<std::mutex> guard(shared_.mu);
    if (shared_.txn_open) throw StoreError(detail::lease_event_in_txn());
    auto& ev = shared_.events;
    const size_t before = ev.size();
    if (ev.size() > keep) ev.erase(ev.begin(), ev.end() - static_cast<std::ptrdiff_t>(keep));
    std::erase_if(ev, [&](const LeaseEventRecord& e) { return e.time < oldest; });
    return before - ev.size();
  }

  std::vector<LeaseEventRecord> lease_events(size_t limit) override {
    std::lock_guard<std::mutex> guard(shared_.mu);
    size_t n = std::min(limit, shared_.events.size());
    return {shared_.events.end() - static_cast<std::ptrdiff_t>(n), shared_.events.end()};
  }

 private:
  Shared shared_;
};

}  // namespace

std::unique_ptr<StateStore> make_memory_store() {
  return std::make_unique<MemoryStore>();
}

}  // namespace vmgw::store
