// The daemon's persistent state behind an interface: SQLite on one host today, a distributed
// store (etcd) later. A change is written in one transaction that the daemon commits only after
// the kernel accepted it, so store and kernel never drift (see docs/architecture.md).
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "store/state.h"

namespace vmgw::store {

// The store failed (I/O, corruption, a constraint). The message names the table and key.
struct StoreError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// A unique key is taken (an address allocated twice, a VM name reused).
struct StoreConflict : StoreError {
  using StoreError::StoreError;
};

class StoreTxn {
 public:
  virtual ~StoreTxn() = default;  // rolls back unless commit() succeeded

  // Inserts, with its filter bindings and quarantine; throws StoreConflict if the key exists.
  virtual void add_vm(const VmRecord& vm) = 0;
  // Deletes by name, with its filter bindings and quarantine; no-op if absent.
  virtual void delete_vm(const std::string& name) = 0;
  // Replaces the VM's MAC, address and port, keeping what refers to it (elastic IP, forwards,
  // filters); throws StoreError if there is no such VM, StoreConflict if another VM has the
  // MAC or the address.
  virtual void set_vm_interface(const std::string& vm, Mac mac, Ipv4 ip,
                                const std::string& port) = 0;
  // Inserts or replaces a filter by name.
  virtual void put_filter(const FilterRecord& f) = 0;
  // Deletes by name; no-op if absent. Bindings that name it are kept.
  virtual void delete_filter(const std::string& name) = 0;
  // Replaces the VM's filter bindings (kept in this order); throws StoreError if there is no
  // such VM.
  virtual void set_vm_filters(const std::string& vm,
                              const std::vector<FilterBindingRecord>& filters) = 0;
  // Sets (or with nullopt lifts) the VM's quarantine; throws StoreError if there is no such VM.
  virtual void set_vm_quarantine(const std::string& vm,
                                 const std::optional<QuarantineRecord>& q) = 0;
  // Inserts an allocation; throws StoreConflict if the address is already allocated.
  virtual void add_eip(const EipRecord& eip) = 0;
  // Replaces the binding of an existing allocation (vm may be empty).
  virtual void set_eip_vm(Ipv4 address, const std::string& vm) = 0;
  virtual void delete_eip(Ipv4 address) = 0;
  // Inserts; throws StoreConflict if (address, proto, first port) exists.
  virtual void add_forward(const ForwardRecord& f) = 0;
  virtual void delete_forward(Ipv4 address, Proto proto, uint32_t first_port) = 0;
  virtual void set_generation(uint64_t generation) = 0;
  // Makes every change of this transaction durable at once. Throws StoreError on failure, in
  // which case nothing was written.
  virtual void commit() = 0;
};

class StateStore {
 public:
  virtual ~StateStore() = default;
  // Everything committed so far.
  virtual StoredState load() = 0;
  // Starts the one write transaction (writers are serialized; readers see committed data only).
  virtual std::unique_ptr<StoreTxn> begin() = 0;
  // Lease events are a log, outside generations: appended and committed at once.
  virtual void append_lease_event(const LeaseEventRecord& e) = 0;
  // The newest `limit` events, oldest first.
  virtual std::vector<LeaseEventRecord> lease_events(size_t limit) = 0;
  // Keeps the newest `keep` events and, of those, the ones at or after `oldest` (an ISO 8601
  // UTC time: such times sort as text). Returns how many were removed.
  virtual size_t prune_lease_events(size_t keep, const std::string& oldest) = 0;
};

// SQLite at `path` (created with its schema if missing), WAL journal, synchronous=FULL so a
// committed change survives a power cut. Throws StoreError if it cannot be opened.
std::unique_ptr<StateStore> open_sqlite_store(const std::string& path);

// In-memory store for unit tests, with the same semantics (conflicts, rollback).
std::unique_ptr<StateStore> make_memory_store();

}  // namespace vmgw::store
