// A thin RAII layer over the SQLite 3 C API: one connection, one prepared statement, errors as
// exceptions carrying SQLite's extended result code. Values reach SQL only through bind().
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "store/state_store.h"

namespace vmgw::store::sqlite {

// A failed SQLite call. `code` is the extended result code (SQLITE_CONSTRAINT_UNIQUE, ...).
struct Error : StoreError {
  Error(int result_code, const std::string& what) : StoreError(what), code(result_code) {}
  int code;
  bool is_constraint() const { return (code & 0xff) == SQLITE_CONSTRAINT; }
  bool is_busy() const { return (code & 0xff) == SQLITE_BUSY; }
};

class Connection {
 public:
  // Opens `path` read-write, creating the file (not its directory) if missing, with extended
  // result codes and the given busy timeout. Throws Error.
  Connection(const std::string& path, int busy_timeout_ms);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  sqlite3* get() const { return db_; }
  const std::string& path() const { return path_; }
  // Runs constant SQL (schema, pragmas, BEGIN/COMMIT): never SQL built from values.
  void exec(const char* sql);
  // Like exec() but never throws: for ROLLBACK in destructors and error paths.
  void exec_noexcept(const char* sql) noexcept;
  bool in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const { return sqlite3_changes64(db_); }
  // Throws Error for `rc` with the connection's current message, followed by `context`.
  [[noreturn]] void fail(int rc, std::string_view context) const;

 private:
  sqlite3* db_ = nullptr;
  std::string path_;
};

class Statement {
 public:
  Statement(Connection& db, std::string_view sql);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  // Parameters are numbered from 1, as in SQL "?1".
  Statement& bind(int index, std::string_view text);
  Statement& bind(int index, int64_t value);
  Statement& bind_null(int index);

  // Advances; true while a row is available. Throws Error.
  bool step();
  // Steps to completion (for statements without results).
  void run();
  // Makes the statement ready to run again; bindings are kept until bound anew.
  Statement& reset();

  std::string text(int column) const;
  int64_t integer(int column) const;
  bool is_null(int column) const;

 private:
  Connection& db_;
  sqlite3_stmt* stmt_ = nullptr;
};

// A transaction scoped to a block: rolled back on leaving it unless commit() succeeded.
class Transaction {
 public:
  // `begin_sql` is "BEGIN" (a read snapshot) or "BEGIN IMMEDIATE" (takes the write lock).
  Transaction(Connection& db, const char* begin_sql) : db_(db) { db_.exec(begin_sql); }
  ~Transaction() {
    if (!done_) db_.exec_noexcept("ROLLBACK");
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    db_.exec("COMMIT");
    done_ = true;
  }

 private:
  Connection& db_;
  bool done_ = false;
};

// A savepoint inside the open transaction, scoped to a block: on leaving it without release(),
// the changes made since are undone and the transaction stays open. Makes one operation of
// several statements all-or-nothing.
class Savepoint {
 public:
  explicit Savepoint(Connection& db) : db_(db) { db_.exec("SAVEPOINT op"); }
  ~Savepoint() {
    if (!done_) db_.exec_noexcept("ROLLBACK TO op; RELEASE op");
  }
  Savepoint(const Savepoint&) = delete;
  Savepoint& operator=(const Savepoint&) = delete;
  void release() {
    db_.exec("RELEASE op");
    done_ = true;
  }

 private:
  Connection& db_;
  bool done_ = false;
};

}  // namespace vmgw::store::sqlite
