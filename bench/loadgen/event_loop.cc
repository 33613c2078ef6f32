#include "event_loop.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace loadgen {

EventLoop::EventLoop() : fd_(epoll_create1(EPOLL_CLOEXEC)) {}

EventLoop::~EventLoop() {
  if (fd_ >= 0) close(fd_);
}

bool EventLoop::add(int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, uint32_t events, uint64_t tag) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tag;
  return epoll_ctl(fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

void EventLoop::remove(int fd) { epoll_ctl(fd_, EPOLL_CTL_DEL, fd, nullptr); }

int EventLoop::wait(epoll_event* events, int max_events, int64_t timeout_ns) {
  if (timeout_ns < 0) timeout_ns = 0;
  // epoll_pwait2 takes a timespec: a fixed-rate sender needs sub-millisecond wake-ups, which
  // epoll_wait's millisecond timeout cannot give.
  timespec timeout{};
  timeout.tv_sec = static_cast<time_t>(timeout_ns / 1000000000);
  timeout.tv_nsec = static_cast<long>(timeout_ns % 1000000000);
  const int n = epoll_pwait2(fd_, events, max_events, &timeout, nullptr);
  if (n < 0) return errno == EINTR ? 0 : -1;
  return n;
}

}  // namespace loadgen
