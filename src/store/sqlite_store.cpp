// StateStore on one SQLite file. Two connections per store object: the writer runs the one
// BEGIN IMMEDIATE transaction (serializing writers across processes) and appends lease events;
// the reader serves load() and lease_events() from committed data only (WAL snapshots), so a
// load() inside an open transaction sees the state the transaction started from.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "store/common.h"
#include "store/sqlite.h"
#include "store/state_store.h"

namespace vmgw::store {
namespace {

using sqlite::Connection;
using sqlite::Statement;

// 1: vms, eips, forwards, lease events. 2: filters, a VM's filter bindings and quarantine (new
// tables only: a version 1 file is upgraded in place; a version 1 vmgw refuses a version 2 file
// rather than ignore a quarantine). 3: the owner of a VM a libvirt domain made (a new table; a
// version 2 vmgw refuses the file rather than let the API change such a VM).
constexpr int64_t kSchemaVersion = 3;
constexpr int kBusyTimeoutMs = 5000;

constexpr const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS meta (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  schema_version INTEGER NOT NULL,
  generation INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS vms (
  name TEXT NOT NULL PRIMARY KEY,
  network TEXT NOT NULL,
  mac TEXT NOT NULL UNIQUE,
  ip TEXT NOT NULL UNIQUE,
  port TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS eips (
  address TEXT NOT NULL PRIMARY KEY,
  pool TEXT NOT NULL,
  vm TEXT NULL REFERENCES vms(name)
);
CREATE INDEX IF NOT EXISTS eips_vm ON eips(vm);
CREATE TABLE IF NOT EXISTS forwards (
  address TEXT NOT NULL,
  proto TEXT NOT NULL CHECK (proto IN ('tcp', 'udp')),
  first_port INTEGER NOT NULL,
  last_port INTEGER NOT NULL,
  vm TEXT NOT NULL REFERENCES vms(name),
  vm_first_port INTEGER NOT NULL,
  vm_last_port INTEGER NOT NULL,
  PRIMARY KEY (address, proto, first_port)
);
CREATE INDEX IF NOT EXISTS forwards_vm ON forwards(vm);
CREATE TABLE IF NOT EXISTS filters (
  name TEXT NOT NULL PRIMARY KEY,
  xml TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS vm_filters (
  vm TEXT NOT NULL REFERENCES vms(name) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  filter TEXT NOT NULL,
  PRIMARY KEY (vm, position)
);
CREATE TABLE IF NOT EXISTS vm_filter_params (
  vm TEXT NOT NULL,
  filter_position INTEGER NOT NULL,
  position INTEGER NOT NULL,
  name TEXT NOT NULL,
  value TEXT NOT NULL,
  PRIMARY KEY (vm, filter_position, position),
  FOREIGN KEY (vm, filter_position) REFERENCES vm_filters(vm, position) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS vm_quarantine (
  vm TEXT NOT NULL PRIMARY KEY REFERENCES vms(name) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS vm_quarantine_allow (
  vm TEXT NOT NULL REFERENCES vm_quarantine(vm) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  cidr TEXT NOT NULL,
  PRIMARY KEY (vm, position)
);
CREATE TABLE IF NOT EXISTS vm_owner (
  vm TEXT NOT NULL PRIMARY KEY REFERENCES vms(name) ON DELETE CASCADE,
  owner TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS lease_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  time TEXT NOT NULL,
  network TEXT NOT NULL,
  action TEXT NOT NULL,
  mac TEXT NOT NULL,
  ip TEXT NOT NULL,
  hostname TEXT NOT NULL
);
)sql";

constexpr const char* kSelectForwards =
    "SELECT address, proto, first_port, last_port, vm, vm_first_port, vm_last_port FROM forwards";

// --- Reading rows back; a value that does not parse means the file was damaged. ---

[[noreturn]] void corrupt(const Connection& db, const std::string& what) {
  throw StoreError("state database " + db.path() + " is damaged: " + what);
}

Ipv4 ip_at(const Connection& db, const Statement& st, int col, const char* table) {
  std::string text = st.text(col);
  auto ip = Ipv4::parse(text);
  if (!ip) corrupt(db, std::string(table) + ": invalid address '" + text + "'");
  return *ip;
}

uint32_t port_at(const Connection& db, const Statement& st, int col) {
  int64_t v = st.integer(col);
  if (v < 0 || v > std::numeric_limits<uint32_t>::max()) {
    corrupt(db, "forwards: invalid port " + std::to_string(v));
  }
  return static_cast<uint32_t>(v);
}

ForwardRecord forward_at(const Connection& db, const Statement& st) {
  ForwardRecord f;
  f.public_address = ip_at(db, st, 0, "forwards");
  std::string proto = st.text(1);
  auto p = parse_proto(proto);
  if (!p) corrupt(db, "forwards: invalid proto '" + proto + "'");
  f.proto = *p;
  f.public_ports = {port_at(db, st, 2), port_at(db, st, 3)};
  f.vm = st.text(4);
  f.vm_ports = {port_at(db, st, 5), port_at(db, st, 6)};
  return f;
}

std::optional<std::string> text_where(Connection& db, const char* sql, const std::string& key) {
  Statement st(db, sql);
  st.bind(1, key);
  if (!st.step()) return std::nullopt;
  return st.text(0);
}

bool vm_exists(Connection& db, const std::string& name) {
  return text_where(db, "SELECT name FROM vms WHERE name = ?1", name).has_value();
}

// Writes a VM's filter bindings and quarantine, whose rows must not exist yet.
void insert_filters(Connection& db, const std::string& vm,
                    const std::vector<FilterBindingRecord>& filters) {
  Statement binding(db, "INSERT INTO vm_filters (vm, position, filter) VALUES (?1, ?2, ?3)");
  Statement param(db,
                  "INSERT INTO vm_filter_params (vm, filter_position, position, name, value) "
                  "VALUES (?1, ?2, ?3, ?4, ?5)");
  binding.bind(1, vm);
  param.bind(1, vm);
  for (size_t i = 0; i < filters.size(); ++i) {
    const auto& f = filters[i];
    binding.reset().bind(2, static_cast<int64_t>(i)).bind(3, f.filter).run();
    for (size_t j = 0; j < f.params.size(); ++j) {
      param.reset().bind(2, static_cast<int64_t>(i)).bind(3, static_cast<int64_t>(j));
      param.bind(4, f.params[j].first).bind(5, f.params[j].second).run();
    }
  }
}

void insert_quarantine(Connection& db, const std::string& vm,
                       const std::optional<QuarantineRecord>& q) {
  detail::check_quarantine(vm, q);
  if (!q) return;
  Statement row(db, "INSERT INTO vm_quarantine (vm) VALUES (?1)");
  row.bind(1, vm).run();
  Statement allow(db, "INSERT INTO vm_quarantine_allow (vm, position, cidr) VALUES (?1, ?2, ?3)");
  allow.bind(1, vm);
  for (size_t i = 0; i < q->allow_from.size(); ++i) {
    allow.reset().bind(2, static_cast<int64_t>(i)).bind(3, q->allow_from[i].str()).run();
  }
}

// --- Opening ---

void configure(Connection& db, bool writer) {
  if (writer) {
    Statement mode(db, "PRAGMA journal_mode = WAL");
    if (!mode.step() || mode.text(0) != "wal") {
      throw StoreError("state database " + db.path() + ": cannot switch to WAL journal mode");
    }
  }
  db.exec("PRAGMA synchronous = FULL");
  db.exec("PRAGMA foreign_keys = ON");
  if (!writer) db.exec("PRAGMA query_only = ON");
}

// Creates the schema in a fresh file, adds the tables an older vmgw did not have; refuses a file
// written by a newer vmgw.
void init_schema(Connection& db) {
  sqlite::Transaction txn(db, "BEGIN IMMEDIATE");
  Statement has_meta(db, "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'");
  if (has_meta.step()) {
    Statement version(db, "SELECT schema_version FROM meta WHERE id = 1");
    if (version.step() && version.integer(0) > kSchemaVersion) {
      throw StoreError("state database " + db.path() + " has schema version " +
                       std::to_string(version.integer(0)) + "; this vmgw knows up to " +
                       std::to_string(kSchemaVersion));
    }
  }
  db.exec(kSchema);
  Statement meta(db,
                 "INSERT OR IGNORE INTO meta (id, schema_version, generation) VALUES (1, ?1, 0)");
  meta.bind(1, kSchemaVersion).run();
  Statement upgrade(db, "UPDATE meta SET schema_version = ?1 WHERE id = 1 AND schema_version < ?1");
  upgrade.bind(1, kSchemaVersion).run();
  txn.commit();
}

class SqliteStore;

class SqliteTxn final : public StoreTxn {
 public:
  explicit SqliteTxn(SqliteStore& store) : store_(store) {}
  ~SqliteTxn() override;
  SqliteTxn(const SqliteTxn&) = delete;
  SqliteTxn& operator=(const SqliteTxn&) = delete;

  void add_vm(const VmRecord& vm) override;
  void delete_vm(const std::string& name) override;
  void put_filter(const FilterRecord& f) override;
  void delete_filter(const std::string& name) override;
  void set_vm_filters(const std::string& vm,
                      const std::vector<FilterBindingRecord>& filters) override;
  void set_vm_quarantine(const std::string& vm, const std::optional<QuarantineRecord>& q) override;
  void set_vm_interface(const std::string& vm, Mac mac, Ipv4 ip, const std::string& port) override;
  void add_eip(const EipRecord& eip) override;
  void set_eip_vm(Ipv4 address, const std::string& vm) override;
  void delete_eip(Ipv4 address) override;
  void add_forward(const ForwardRecord& f) override;
  void delete_forward(Ipv4 address, Proto proto, uint32_t first_port) override;
  void set_generation(uint64_t generation) override;
  void commit() override;

 private:
  // Locks the writer connection for one operation; throws if the transaction is finished.
  std::unique_lock<std::mutex> lock();
  Connection& db();
  void finish();  // under lock()

  SqliteStore& store_;
  bool finished_ = false;
};

class SqliteStore final : public StateStore {
 public:
  explicit SqliteStore(const std::string& path) : writer_(path, kBusyTimeoutMs) {
    configure(writer_, true);
    init_schema(writer_);
    reader_.emplace(path, kBusyTimeoutMs);  // after init: the file is in WAL mode by now
    configure(*reader_, false);
  }

  StoredState load() override;
  std::unique_ptr<StoreTxn> begin() override;
  void append_lease_event(const LeaseEventRecord& e) override;
  std::vector<LeaseEventRecord> lease_events(size_t limit) override;
  size_t prune_lease_events(size_t keep, const std::string& oldest) override;

 private:
  friend class SqliteTxn;

  std::mutex write_mu_;
  Connection writer_;
  bool txn_open_ = false;  // guarded by write_mu_
  std::mutex read_mu_;
  std::optional<Connection> reader_;
};

// --- The transaction ---

SqliteTxn::~SqliteTxn() {
  std::lock_guard<std::mutex> guard(store_.write_mu_);
  if (finished_) return;
  store_.writer_.exec_noexcept("ROLLBACK");
  finish();
}

std::unique_lock<std::mutex> SqliteTxn::lock() {
  std::unique_lock<std::mutex> guard(store_.write_mu_);
  if (finished_) throw StoreError(detail::txn_finished());
  if (!store_.writer_.in_transaction()) {
    finish();  // SQLite rolled the transaction back after an error (disk full, I/O)
    throw StoreError("state database " + store_.writer_.path() +
                     ": the transaction was rolled back after an error");
  }
  return guard;
}

Connection& SqliteTxn::db() {
  return store_.writer_;
}

void SqliteTxn::finish() {
  finished_ = true;
  store_.txn_open_ = false;
}

void SqliteTxn::add_vm(const VmRecord& vm) {
  auto guard = lock();
  sqlite::Savepoint op(db());  // the vm with its bindings, or nothing
  Statement st(db(), "INSERT INTO vms (name, network, mac, ip, port) VALUES (?1, ?2, ?3, ?4, ?5)");
  st.bind(1, vm.name).bind(2, vm.network).bind(3, vm.mac.str()).bind(4, vm.ip.str());
  st.bind(5, vm.port);
  try {
    st.run();
  } catch (const sqlite::Error& e) {
    if (!e.is_constraint()) throw;
    if (vm_exists(db(), vm.name)) throw StoreConflict(detail::vm_exists(vm.name));
    if (auto owner = text_where(db(), "SELECT name FROM vms WHERE mac = ?1", vm.mac.str())) {
      throw StoreConflict(detail::mac_taken(vm.mac, *owner));
    }
    if (auto owner = text_where(db(), "SELECT name FROM vms WHERE ip = ?1", vm.ip.str())) {
      throw StoreConflict(detail::ip_taken(vm.ip, *owner));
    }
    throw;
  }
  insert_filters(db(), vm.name, vm.filters);
  insert_quarantine(db(), vm.name, vm.quarantine);
  if (!vm.owner.empty()) {
    Statement owner(db(), "INSERT INTO vm_owner (vm, owner) VALUES (?1, ?2)");
    owner.bind(1, vm.name).bind(2, vm.owner).run();
  }
  op.release();
}

void SqliteTxn::delete_vm(const std::string& name) {
  auto guard = lock();
  std::vector<Ipv4> eips;
  Statement e(db(), "SELECT address FROM eips WHERE vm = ?1");
  e.bind(1, name);
  while (e.step()) eips.push_back(ip_at(db(), e, 0, "eips"));
  StoredState refs;
  Statement f(db(), std::string(kSelectForwards) + " WHERE vm = ?1");
  f.bind(1, name);
  while (f.step()) refs.forwards.push_back(forward_at(db(), f));
  if (!eips.empty() || !refs.forwards.empty()) {
    std::sort(eips.begin(), eips.end());
    detail::sort_state(refs);
    throw StoreConflict(detail::vm_referenced(name, eips, refs.forwards));
  }
  Statement del(db(), "DELETE FROM vms WHERE name = ?1");  // cascades to bindings, quarantine
  del.bind(1, name).run();
}

void SqliteTxn::put_filter(const FilterRecord& f) {
  auto guard = lock();
  Statement st(db(),
               "INSERT INTO filters (name, xml) VALUES (?1, ?2) "
               "ON CONFLICT (name) DO UPDATE SET xml = excluded.xml");
  st.bind(1, f.name).bind(2, f.xml).run();
}

void SqliteTxn::delete_filter(const std::string& name) {
  auto guard = lock();
  Statement st(db(), "DELETE FROM filters WHERE name = ?1");
  st.bind(1, name).run();
}

void SqliteTxn::set_vm_filters(const std::string& vm,
                               const std::vector<FilterBindingRecord>& filters) {
  auto guard = lock();
  if (!vm_exists(db(), vm)) throw StoreError(detail::no_such_vm_to_set("filters", vm));
  sqlite::Savepoint op(db());
  Statement del(db(), "DELETE FROM vm_filters WHERE vm = ?1");  // cascades to the params
  del.bind(1, vm).run();
  insert_filters(db(), vm, filters);
  op.release();
}

void SqliteTxn::set_vm_interface(const std::string& vm, Mac mac, Ipv4 ip, const std::string& port) {
  auto guard = lock();
  if (!vm_exists(db(), vm)) throw StoreError(detail::no_such_vm_to_set("interface", vm));
  Statement st(db(), "UPDATE vms SET mac = ?2, ip = ?3, port = ?4 WHERE name = ?1");
  st.bind(1, vm).bind(2, mac.str()).bind(3, ip.str()).bind(4, port);
  try {
    st.run();
  } catch (const sqlite::Error& e) {
    if (!e.is_constraint()) throw;
    if (auto owner = text_where(db(), "SELECT name FROM vms WHERE mac = ?1", mac.str()))
      throw StoreConflict(detail::mac_taken(mac, *owner));
    if (auto owner = text_where(db(), "SELECT name FROM vms WHERE ip = ?1", ip.str()))
      throw StoreConflict(detail::ip_taken(ip, *owner));
    throw;
  }
}

void SqliteTxn::set_vm_quarantine(const std::string& vm, const std::optional<QuarantineRecord>& q) {
  auto guard = lock();
  if (!vm_exists(db(), vm)) throw StoreError(detail::no_such_vm_to_set("quarantine", vm));
  sqlite::Savepoint op(db());
  Statement del(db(), "DELETE FROM vm_quarantine WHERE vm = ?1");  // cascades to the sources
  del.bind(1, vm).run();
  insert_quarantine(db(), vm, q);
  op.release();
}

void SqliteTxn::add_eip(const EipRecord& eip) {
  auto guard = lock();
  Statement st(db(), "INSERT INTO eips (address, pool, vm) VALUES (?1, ?2, ?3)");
  st.bind(1, eip.address.str()).bind(2, eip.pool);
  if (eip.vm.empty()) {
    st.bind_null(3);
  } else {
    st.bind(3, eip.vm);
  }
  try {
    st.run();
  } catch (const sqlite::Error& e) {
    if (!e.is_constraint()) throw;
    if (text_where(db(), "SELECT address FROM eips WHERE address = ?1", eip.address.str())) {
      throw StoreConflict(detail::eip_allocated(eip.address));
    }
    if (!eip.vm.empty() && !vm_exists(db(), eip.vm)) {
      throw StoreError(detail::no_such_vm("elastic IP " + eip.address.str(), eip.vm));
    }
    throw;
  }
}

void SqliteTxn::set_eip_vm(Ipv4 address, const std::string& vm) {
  auto guard = lock();
  if (!vm.empty() && !vm_exists(db(), vm)) {
    throw StoreError(detail::no_such_vm("elastic IP " + address.str(), vm));
  }
  Statement st(db(), "UPDATE eips SET vm = ?2 WHERE address = ?1");
  st.bind(1, address.str());
  if (vm.empty()) {
    st.bind_null(2);
  } else {
    st.bind(2, vm);
  }
  st.run();
  if (db().changes() == 0) throw StoreError(detail::eip_not_allocated(address));
}

void SqliteTxn::delete_eip(Ipv4 address) {
  auto guard = lock();
  Statement st(db(), "DELETE FROM eips WHERE address = ?1");
  st.bind(1, address.str()).run();
}

void SqliteTxn::add_forward(const ForwardRecord& f) {
  auto guard = lock();
  Statement st(db(),
               "INSERT INTO forwards (address, proto, first_port, last_port, vm, vm_first_port, "
               "vm_last_port) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)");
  st.bind(1, f.public_address.str()).bind(2, to_string(f.proto));
  st.bind(3, int64_t{f.public_ports.first}).bind(4, int64_t{f.public_ports.last});
  st.bind(5, f.vm).bind(6, int64_t{f.vm_ports.first}).bind(7, int64_t{f.vm_ports.last});
  try {
    st.run();
  } catch (const sqlite::Error& e) {
    if (!e.is_constraint()) throw;
    Statement exists(
        db(), "SELECT 1 FROM forwards WHERE address = ?1 AND proto = ?2 AND first_port = ?3");
    exists.bind(1, f.public_address.str()).bind(2, to_string(f.proto));
    exists.bind(3, int64_t{f.public_ports.first});
    if (exists.step()) throw StoreConflict(detail::forward_exists(f));
    if (!vm_exists(db(), f.vm)) {
      throw StoreError(detail::no_such_vm(
          "port forward " + detail::forward_name(f.public_address, f.proto, f.public_ports), f.vm));
    }
    throw;
  }
}

void SqliteTxn::delete_forward(Ipv4 address, Proto proto, uint32_t first_port) {
  auto guard = lock();
  Statement st(db(), "DELETE FROM forwards WHERE address = ?1 AND proto = ?2 AND first_port = ?3");
  st.bind(1, address.str()).bind(2, to_string(proto)).bind(3, int64_t{first_port}).run();
}

void SqliteTxn::set_generation(uint64_t generation) {
  auto guard = lock();
  Statement st(db(), "UPDATE meta SET generation = ?1 WHERE id = 1");
  st.bind(1, static_cast<int64_t>(generation)).run();  // stored as the same 64 bits
}

void SqliteTxn::commit() {
  auto guard = lock();
  try {
    db().exec("COMMIT");
  } catch (...) {
    db().exec_noexcept("ROLLBACK");  // "nothing was written", whatever COMMIT left behind
    finish();
    throw;
  }
  finish();
}

// --- The store ---

StoredState SqliteStore::load() {
  std::lock_guard<std::mutex> guard(read_mu_);
  Connection& db = *reader_;
  sqlite::Transaction snapshot(db, "BEGIN");
  StoredState s;
  Statement vms(db, "SELECT name, network, mac, ip, port FROM vms ORDER BY name");
  while (vms.step()) {
    VmRecord vm{.name = vms.text(0), .network = vms.text(1), .port = vms.text(4)};
    std::string mac = vms.text(2);
    auto parsed = Mac::parse(mac);
    if (!parsed) corrupt(db, "vms: invalid mac '" + mac + "'");
    vm.mac = *parsed;
    vm.ip = ip_at(db, vms, 3, "vms");
    s.vms.push_back(std::move(vm));
  }
  std::unordered_map<std::string, size_t> vm_index;  // into s.vms, until sorted
  for (size_t i = 0; i < s.vms.size(); ++i) vm_index.emplace(s.vms[i].name, i);
  auto vm_of = [&](const std::string& name, const char* table) -> VmRecord& {
    auto it = vm_index.find(name);
    if (it == vm_index.end()) corrupt(db, std::string(table) + ": no vm '" + name + "'");
    return s.vms[it->second];
  };
  // One row per binding, repeated for each of its params, all in position order.
  Statement bindings(db,
                     "SELECT f.vm, f.position, f.filter, p.name, p.value FROM vm_filters f "
                     "LEFT JOIN vm_filter_params p ON p.vm = f.vm AND p.filter_position = "
                     "f.position ORDER BY f.vm, f.position, p.position");
  std::optional<std::pair<std::string, int64_t>> last_binding;
  while (bindings.step()) {
    std::pair<std::string, int64_t> key{bindings.text(0), bindings.integer(1)};
    VmRecord& vm = vm_of(key.first, "vm_filters");
    if (key != last_binding) {
      vm.filters.push_back({.filter = bindings.text(2)});
      last_binding = key;
    }
    if (!bindings.is_null(3)) {
      vm.filters.back().params.emplace_back(bindings.text(3), bindings.text(4));
    }
  }
  Statement quarantine(db,
                       "SELECT q.vm, a.cidr FROM vm_quarantine q LEFT JOIN vm_quarantine_allow a "
                       "ON a.vm = q.vm ORDER BY q.vm, a.position");
  while (quarantine.step()) {
    VmRecord& vm = vm_of(quarantine.text(0), "vm_quarantine");
    if (!vm.quarantine) vm.quarantine.emplace();
    if (quarantine.is_null(1)) continue;
    std::string text = quarantine.text(1);
    auto cidr = Cidr::parse(text);
    if (!cidr) corrupt(db, "vm_quarantine_allow: invalid network '" + text + "'");
    vm.quarantine->allow_from.push_back(*cidr);
  }
  Statement owners(db, "SELECT vm, owner FROM vm_owner");
  while (owners.step()) vm_of(owners.text(0), "vm_owner").owner = owners.text(1);
  Statement filters(db, "SELECT name, xml FROM filters");
  while (filters.step()) s.filters.push_back({.name = filters.text(0), .xml = filters.text(1)});
  Statement eips(db, "SELECT address, pool, vm FROM eips");
  while (eips.step()) {
    s.eips.push_back({.address = ip_at(db, eips, 0, "eips"),
                      .pool = eips.text(1),
                      .vm = eips.is_null(2) ? std::string() : eips.text(2)});
  }
  Statement forwards(db, kSelectForwards);
  while (forwards.step()) s.forwards.push_back(forward_at(db, forwards));
  Statement meta(db, "SELECT generation FROM meta WHERE id = 1");
  if (!meta.step()) corrupt(db, "meta: no row");
  s.generation = static_cast<uint64_t>(meta.integer(0));
  detail::sort_state(s);  // addresses sort by value, not as text
  return s;
}

std::unique_ptr<StoreTxn> SqliteStore::begin() {
  std::lock_guard<std::mutex> guard(write_mu_);
  if (txn_open_) throw StoreError(detail::txn_already_open());
  writer_.exec("BEGIN IMMEDIATE");
  try {
    auto txn = std::make_unique<SqliteTxn>(*this);
    txn_open_ = true;
    return txn;
  } catch (...) {
    writer_.exec_noexcept("ROLLBACK");
    throw;
  }
}

void SqliteStore::append_lease_event(const LeaseEventRecord& e) {
  std::lock_guard<std::mutex> guard(write_mu_);
  if (txn_open_) throw StoreError(detail::lease_event_in_txn());
  Statement st(writer_,
               "INSERT INTO lease_events (time, network, action, mac, ip, hostname) "
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  st.bind(1, e.time).bind(2, e.network).bind(3, e.action).bind(4, e.mac).bind(5, e.ip);
  st.bind(6, e.hostname).run();
}

size_t SqliteStore::prune_lease_events(size_t keep, const std::string& oldest) {
  std::lock_guard<std::mutex> guard(write_mu_);
  if (txn_open_) throw StoreError(detail::lease_event_in_txn());
  constexpr auto kMax = static_cast<size_t>(std::numeric_limits<int64_t>::max());
  Statement st(writer_,
               "DELETE FROM lease_events WHERE time < ?1 OR id <= "
               "(SELECT id FROM lease_events ORDER BY id DESC LIMIT 1 OFFSET ?2)");
  st.bind(1, oldest).bind(2, static_cast<int64_t>(std::min(keep, kMax))).run();
  return static_cast<size_t>(writer_.changes());
}

std::vector<LeaseEventRecord> SqliteStore::lease_events(size_t limit) {
  std::lock_guard<std::mutex> guard(read_mu_);
  Statement st(*reader_,
               "SELECT time, network, action, mac, ip, hostname FROM "
               "(SELECT * FROM lease_events ORDER BY id DESC LIMIT ?1) ORDER BY id");
  constexpr auto kMax = static_cast<size_t>(std::numeric_limits<int64_t>::max());
  st.bind(1, static_cast<int64_t>(std::min(limit, kMax)));
  std::vector<LeaseEventRecord> events;
  while (st.step()) {
    events.push_back({st.text(0), st.text(1), st.text(2), st.text(3), st.text(4), st.text(5)});
  }
  return events;
}

}  // namespace

std::unique_ptr<StateStore> open_sqlite_store(const std::string& path) {
  return std::make_unique<SqliteStore>(path);
}

}  // namespace vmgw::store
