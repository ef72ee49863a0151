// Helpers shared by the kernel tests. Shell commands are fine here: the whole test process lives
// in its own private network namespace (see main.cpp), so `ip` and `nft` touch only that.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "model/net.h"

namespace vmgw::kernel_test {

inline Ipv4 ip(const char* s) {
  return *Ipv4::parse(s);
}

// Runs a shell command; returns its exit status.
inline int sh(const std::string& cmd) {
  return std::system(cmd.c_str());
}

// Runs a shell command; returns what it printed on stdout.
inline std::string run(const std::string& cmd) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(::popen(cmd.c_str(), "r"), ::pclose);
  std::string out;
  char buf[4096];
  size_t n;
  while (p && (n = std::fread(buf, 1, sizeof buf, p.get())) > 0) out.append(buf, n);
  return out;
}

}  // namespace vmgw::kernel_test
