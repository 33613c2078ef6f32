// Mode "poll": holds N long-polling clients that re-poll with their cursor on keep-alive
// connections and check every message they receive.
#pragma once

#include "options.h"

namespace loadgen {

// Runs until SIGTERM/SIGINT/SIGUSR1, --duration or --max-seconds, then prints the result line.
// Returns the process exit code (0, or 1 if the run could not start at all).
int run_poll_clients(const Options& options);

}  // namespace loadgen
