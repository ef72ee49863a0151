// Kernel parameters under /proc/sys (per network namespace for net/*).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace vmgw::backend {

class Sysctl {
 public:
  virtual ~Sysctl() = default;
  // Current value (trailing newline stripped), nullopt if the key does not exist.
  virtual std::optional<std::string> get(const std::string& key) = 0;
  // Writes a value; throws std::runtime_error naming the key on failure.
  virtual void set(const std::string& key, const std::string& value) = 0;
  // False where the kernel makes the key read-only (host-wide keys in a network namespace).
  virtual bool writable(const std::string& key) = 0;
};

// Reads and writes files below `root` (default /proc/sys).
std::unique_ptr<Sysctl> make_proc_sysctl(const std::string& root = "/proc/sys");

class FakeSysctl : public Sysctl {
 public:
  std::optional<std::string> get(const std::string& key) override;
  void set(const std::string& key, const std::string& value) override;
  bool writable(const std::string& key) override { return !read_only.count(key); }
  std::map<std::string, std::string> values;
  std::set<std::string> read_only;  // set() on these throws, like the kernel's 0444 keys
  int writes = 0;
};

}  // namespace vmgw::backend
