// Kernel parameters under /proc/sys (per network namespace for net/*).
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>

namespace vmgw::backend {

class Sysctl {
 public:
  virtual ~Sysctl() = default;
  // Current value (trailing newline stripped), nullopt if the key does not exist.
  virtual std::optional<std::string> get(const std::string& key) = 0;
  // Writes a value; throws std::runtime_error naming the key on failure.
  virtual void set(const std::string& key, const std::string& value) = 0;
};

// Reads and writes files below `root` (default /proc/sys).
std::unique_ptr<Sysctl> make_proc_sysctl(const std::string& root = "/proc/sys");

class FakeSysctl : public Sysctl {
 public:
  std::optional<std::string> get(const std::string& key) override;
  void set(const std::string& key, const std::string& value) override;
  std::map<std::string, std::string> values;
  int writes = 0;
};

}  // namespace vmgw::backend
