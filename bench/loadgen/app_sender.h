// Mode "send": one app connection that pipelines `send` lines with a bounded in-flight window.
#pragma once

#include "options.h"

namespace loadgen {

// Sends --messages messages (or fan-out rounds) at --rate (0: as fast as the window allows),
// waits for every reply, prints the result line. Returns the exit code (1 if it could not
// connect at all).
int run_app_sender(const Options& options);

}  // namespace loadgen
