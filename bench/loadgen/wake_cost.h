// `loadgen wakecost`: what one thread wake-up costs on this machine, the unit every "wake-ups per
// message" figure of the bench is paid in (docs/ARCHITECTURE.md, "What a wake-up costs").
#pragma once

#include "options.h"

namespace loadgen {

// Two threads hand a token back and forth --messages times, each sleeping in epoll_wait on its own
// eventfd and woken by the other's write(2): the way a MegaComet ring doorbell wakes a reader
// (native/doorbell.h). With --rate R the first thread sleeps until the next of R round trips a
// second is due, so the CPUs go idle between hand-offs as at a moderate load. Prints one JSON line:
// CPU seconds of both threads, their voluntary context switches (what the bench counts as
// wake-ups), CPU per wake-up, and the mean time from a write(2) to the other thread's return from
// epoll_wait. Returns the process exit status.
int run_wake_cost(const Options& options);

}  // namespace loadgen
