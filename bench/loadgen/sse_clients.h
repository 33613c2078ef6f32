// Mode "sse": holds N clients on event streams (GET /events, PROTOCOL.md section 1b) that
// reconnect with Last-Event-ID when a stream ends, and check every message they receive the
// way the polling clients do (sequence_check.h), so the runner reads both alike.
#pragma once

#include "options.h"

namespace loadgen {

// Runs until SIGTERM/SIGINT/SIGUSR1, --duration or --max-seconds, then prints the result line.
int run_sse_clients(const Options& options);

}  // namespace loadgen
