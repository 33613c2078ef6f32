// loadgen: the native load generator of `npm run bench` (see docs/BENCHMARKS.md).
// One binary, five modes: poll, sse, send and churn load a server, each process running one mode
// in one epoll loop and ending by itself; wakecost measures what a thread wake-up costs here.
#include <sys/resource.h>

#include <cstdio>

#include "app_sender.h"
#include "churn_clients.h"
#include "options.h"
#include "poll_clients.h"
#include "sse_clients.h"
#include "stop_signal.h"
#include "wake_cost.h"

namespace {

// One socket per client: raise the soft descriptor limit to the hard one (20000 on the
// development machines; the runner keeps each process under ~9000 clients).
void raise_file_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

}  // namespace

int main(int argc, char** argv) {
  loadgen::Options options;
  if (!loadgen::parse_options(argc, argv, options)) return 2;
  raise_file_limit();
  loadgen::install_stop_signals();
  switch (options.mode) {
    case loadgen::Mode::poll:
      return loadgen::run_poll_clients(options);
    case loadgen::Mode::send:
      return loadgen::run_app_sender(options);
    case loadgen::Mode::churn:
      return loadgen::run_churn_clients(options);
    case loadgen::Mode::sse:
      return loadgen::run_sse_clients(options);
    case loadgen::Mode::wakecost:
      return loadgen::run_wake_cost(options);
  }
  return 2;
}
