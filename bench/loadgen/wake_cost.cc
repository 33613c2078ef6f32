#include "wake_cost.h"

#include <pthread.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>

#include "clock.h"
#include "cpu_time.h"
#include "json_out.h"

namespace loadgen {
namespace {

constexpr uint64_t kDefaultRoundTrips = 20000;

// One end of the hand-off: an eventfd to be woken through and an epoll set watching it.
class Waiter {
 public:
  Waiter() : event_fd_(eventfd(0, EFD_CLOEXEC)), epoll_fd_(epoll_create1(EPOLL_CLOEXEC)) {
    if (event_fd_ < 0 || epoll_fd_ < 0) return;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ok_ = epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, event_fd_, &ev) == 0;
  }
  ~Waiter() {
    if (event_fd_ >= 0) close(event_fd_);
    if (epoll_fd_ >= 0) close(epoll_fd_);
  }
  Waiter(const Waiter&) = delete;
  Waiter& operator=(const Waiter&) = delete;

  bool ok() const { return ok_; }

  // Called by the other thread.
  void wake() const {
    const uint64_t one = 1;
    while (write(event_fd_, &one, sizeof one) < 0 && errno == EINTR) {
    }
  }

  // Sleeps until woken; false when the wait failed for another reason than a signal.
  bool wait() const {
    epoll_event ev{};
    for (;;) {
      const int n = epoll_wait(epoll_fd_, &ev, 1, -1);
      if (n == 1) break;
      if (n < 0 && errno != EINTR) return false;
    }
    uint64_t count = 0;
    return read(event_fd_, &count, sizeof count) == sizeof count;
  }

 private:
  int event_fd_;
  int epoll_fd_;
  bool ok_ = false;
};

struct Shared {
  Waiter to_echo;
  Waiter to_caller;
  uint64_t round_trips = 0;
  // Written by the echo thread before it ends; read after pthread_join.
  rusage echo_usage{};
  bool echo_failed = false;
};

void* echo(void* arg) {
  auto* shared = static_cast<Shared*>(arg);
  for (uint64_t i = 0; i < shared->round_trips; i++) {
    if (!shared->to_echo.wait()) {
      shared->echo_failed = true;
      break;
    }
    shared->to_caller.wake();
  }
  getrusage(RUSAGE_THREAD, &shared->echo_usage);
  return nullptr;
}

void sleep_until(int64_t due_ns) {
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(due_ns / kNsPerSecond);
  ts.tv_nsec = static_cast<long>(due_ns % kNsPerSecond);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

}  // namespace

int run_wake_cost(const Options& options) {
  Shared shared;
  shared.round_trips = options.messages == 0 ? kDefaultRoundTrips : options.messages;
  if (!shared.to_echo.ok() || !shared.to_caller.ok()) {
    std::fprintf(stderr, "loadgen wakecost: cannot make an eventfd and epoll set: %s\n", std::strerror(errno));
    return 1;
  }
  rusage before{};
  getrusage(RUSAGE_THREAD, &before);
  pthread_t thread{};
  if (pthread_create(&thread, nullptr, echo, &shared) != 0) {
    std::fprintf(stderr, "loadgen wakecost: cannot start the second thread\n");
    return 1;
  }
  const int64_t interval_ns = options.rate > 0 ? static_cast<int64_t>(1e9 / options.rate) : 0;
  const int64_t started_ns = monotonic_ns();
  int64_t handoff_ns = 0;
  bool failed = false;
  for (uint64_t i = 0; i < shared.round_trips; i++) {
    if (interval_ns > 0) sleep_until(started_ns + static_cast<int64_t>(i) * interval_ns);
    const int64_t t0 = monotonic_ns();
    shared.to_echo.wake();
    if (!shared.to_caller.wait()) {
      failed = true;
      break;
    }
    handoff_ns += monotonic_ns() - t0;
  }
  // On a failed wait the echo thread may still wait for its next token: send them all.
  if (failed) {
    for (uint64_t i = 0; i < shared.round_trips; i++) shared.to_echo.wake();
  }
  pthread_join(thread, nullptr);
  const int64_t elapsed_ns = monotonic_ns() - started_ns;
  rusage after{};
  getrusage(RUSAGE_THREAD, &after);
  if (failed || shared.echo_failed) {
    std::fprintf(stderr, "loadgen wakecost: epoll_wait failed: %s\n", std::strerror(errno));
    return 1;
  }
  const double cpu = cpu_seconds_of(after) - cpu_seconds_of(before) + cpu_seconds_of(shared.echo_usage);
  // Voluntary switches of both threads: each sleep in epoll_wait (and, paced, in the timer) that
  // ended with a wake-up. The pacing sleeps are wake-ups too, of the kind a timer-driven sender has.
  const int64_t switches = (after.ru_nvcsw - before.ru_nvcsw) + shared.echo_usage.ru_nvcsw;
  const double rounds = static_cast<double>(shared.round_trips);
  JsonOut out;
  out.string("mode", "wakecost")
      .number("round_trips", shared.round_trips)
      .number("rate", options.rate)
      .number("seconds", static_cast<double>(elapsed_ns) / 1e9)
      .number("cpu_seconds", cpu)
      .number("voluntary_switches", switches)
      .number("cpu_ns_per_wakeup", switches > 0 ? cpu * 1e9 / static_cast<double>(switches) : 0.0)
      .number("handoff_ns", static_cast<double>(handoff_ns) / rounds / 2);
  std::printf("%s\n", out.finish().c_str());
  return 0;
}

}  // namespace loadgen
