// Giving freed heap back to the system after the daemon's large transient work.
#pragma once

namespace vmgw::daemon {

// Gives the heap pages freed since the last call back to the kernel (glibc malloc_trim). Why: a
// converge of 10 000 VMs builds gigabytes of short-lived JSON (the whole plan, the kernel's
// listing, the batch); glibc keeps the freed pages of its main heap mapped, so without this an
// idle daemon keeps its peak as resident memory although it holds a few percent of it.
// Costs a walk of the free lists: call it after a change is answered, not before.
void return_free_memory();

}  // namespace vmgw::daemon
