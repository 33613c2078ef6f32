#include "stop_signal.h"

#include <csignal>

namespace loadgen {

namespace {

volatile sig_atomic_t g_stop = 0;
volatile sig_atomic_t g_snapshot = 0;

void on_stop(int) { g_stop = 1; }
void on_snapshot(int) { g_snapshot = 1; }

}  // namespace

void install_stop_signals() {
  struct sigaction action{};
  action.sa_handler = on_stop;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0;
  sigaction(SIGTERM, &action, nullptr);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGUSR1, &action, nullptr);
  // Installed in every mode: SIGUSR2's default action would end the process.
  action.sa_handler = on_snapshot;
  sigaction(SIGUSR2, &action, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

bool stop_requested() { return g_stop != 0; }

bool take_snapshot_request() {
  if (g_snapshot == 0) return false;
  g_snapshot = 0;
  return true;
}

}  // namespace loadgen
