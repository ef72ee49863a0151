#include "daemon/memory.h"

#include <malloc.h>

namespace vmgw::daemon {

void return_free_memory() {
#if defined(__GLIBC__)
  ::malloc_trim(0);
#endif
}

}  // namespace vmgw::daemon
