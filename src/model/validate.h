// Semantic validation. A Validated<Config> can only be produced here, so the compiler can rely
// on every invariant listed in validate.cpp (addresses inside subnets, unique names, resolved
// references, kernel-acceptable device names...).
#pragma once

#include <cstdint>
#include <variant>

#include "model/config.h"

namespace vmgw {

// The most ports all port forwards together may span: each forwarded port is one element in
// the kernel's forward maps (a range is forwarded port by port).
inline constexpr uint64_t kMaxForwardedPorts = 65536;

template <typename T>
class Validated {
 public:
  const T& get() const { return value_; }
  const T* operator->() const { return &value_; }

 private:
  explicit Validated(T value) : value_(std::move(value)) {}
  friend std::variant<Validated<Config>, Diagnostics> validate(Config config);
  T value_;
};

// Checks everything and returns either the validated config or every error found (never just
// the first). Errors are ordered by location.
std::variant<Validated<Config>, Diagnostics> validate(Config config);

}  // namespace vmgw
