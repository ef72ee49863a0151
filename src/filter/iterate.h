// How a rule's list variables combine into rules, exactly as libvirt combines them
// (virNWFilterVarCombIterCreate/Next in libvirt's src/conf/nwfilter_params.c):
//
// - References under one iterator move together: `$A[@1]` and `$B[@1]` take their first values,
//   then their second values, and so on. A plain `$A` is `$A[@0]`, so `$A` and `$B` in one rule
//   move together too (not every combination). Lists moving together must have the same number
//   of values; libvirt refuses the rule otherwise, and so does vmgw.
// - A step of an iterator that gives the same values as an earlier step is skipped
//   (A=[1,2,1], B=[5,6,5]: the third step repeats the first).
// - Different iterators combine in every way: `$A[@1]` and `$B[@2]` give |A| x |B| rules.
// - `$A[2]` is the third value of A, whatever the iterators do.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <vector>

#include "filter/model.h"

namespace vmgw::filter {

// A variable reference of a rule and the values of its variable.
struct ListRef {
  VariableRef ref;
  const std::vector<std::string>* values = nullptr;
};

class Iteration {
 public:
  struct Error {
    std::size_t ref = 0;  // the reference it is about (index into the references given)
    std::string reason;
  };
  // Why the references cannot be combined; when not empty there are no combinations.
  std::vector<Error> errors;

  // How many rules the references make: the product of each iterator's distinct steps (at
  // least 1; saturates at SIZE_MAX instead of overflowing).
  std::size_t count() const;
  // Combination `c` (0 <= c < count()): for each reference, the index of the value it takes.
  // Iterator 0 (plain references) changes fastest, then the others in the order first used, so
  // rules come out in libvirt's order.
  std::vector<std::size_t> pick(std::size_t c) const;

 private:
  struct Iterator {
    std::vector<std::size_t> refs;       // the references it moves
    std::vector<std::size_t> positions;  // its steps: the value index, duplicates skipped
  };
  std::vector<Iterator> iterators_;
  friend Iteration iterate(std::span<const ListRef> refs);
};

// Combines a rule's variable references, in the order they are written.
Iteration iterate(std::span<const ListRef> refs);

}  // namespace vmgw::filter
