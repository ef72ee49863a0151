#include "backend/sysctl.h"

#include <unistd.h>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace vmgw::backend {
namespace {

class ProcSysctl : public Sysctl {
 public:
  explicit ProcSysctl(std::string root) : root_(std::move(root)) {}

  std::optional<std::string> get(const std::string& key) override {
    std::ifstream in(root_ + "/" + key);
    if (!in) return std::nullopt;
    std::stringstream ss;
    ss << in.rdbuf();
    std::string v = ss.str();
    while (!v.empty() && (v.back() == '\n' || v.back() == ' ')) v.pop_back();
    return v;
  }

  bool writable(const std::string& key) override {
    // procfs applies the sysctl's own mode, for root too: 0444 in a non-initial namespace.
    return ::access((root_ + "/" + key).c_str(), W_OK) == 0;
  }

  void set(const std::string& key, const std::string& value) override {
    std::ofstream out(root_ + "/" + key);
    out << value << "\n";
    out.close();
    if (!out) throw std::runtime_error("cannot set sysctl " + key + " = " + value);
  }

 private:
  std::string root_;
};

}  // namespace

std::unique_ptr<Sysctl> make_proc_sysctl(const std::string& root) {
  return std::make_unique<ProcSysctl>(root);
}

std::optional<std::string> FakeSysctl::get(const std::string& key) {
  auto it = values.find(key);
  if (it == values.end()) return std::nullopt;
  return it->second;
}

void FakeSysctl::set(const std::string& key, const std::string& value) {
  if (read_only.count(key)) throw std::runtime_error("cannot set sysctl " + key + ": read-only");
  values[key] = value;
  ++writes;
}

}  // namespace vmgw::backend
