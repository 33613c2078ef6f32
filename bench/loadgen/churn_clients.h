// Mode "churn": connections opened, polled once and closed, at a rate, for a duration.
#pragma once

#include "options.h"

namespace loadgen {

// Each cycle connects, sends one poll for a client id of its own, and closes the socket when the
// answer came (--hold-ms 0: the server's poll timeout answers it) or --hold-ms after the request
// (abandoning the poll, as a browser leaving a page does). Prints the result line; returns the
// exit code.
int run_churn_clients(const Options& options);

}  // namespace loadgen
