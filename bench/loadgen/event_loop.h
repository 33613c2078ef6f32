// The epoll set of one loadgen process (one thread, level-triggered).
#pragma once

#include <sys/epoll.h>

#include <cstdint>

namespace loadgen {

// Level-triggered on purpose: each ready socket gets one read per wake-up and is reported again
// if more is left, which keeps the client state machines simple; the generator's cost per event
// is small next to the server's, and that is what we measure.
class EventLoop {
 public:
  EventLoop();
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // False (errno set) if epoll_create1 failed.
  bool ok() const { return fd_ >= 0; }

  // `tag` comes back in epoll_event.data.u64. Each returns false with errno on failure.
  bool add(int fd, uint32_t events, uint64_t tag);
  bool modify(int fd, uint32_t events, uint64_t tag);
  void remove(int fd);

  // Waits at most `timeout_ns` (0: poll, negative: treated as 0) for events. Returns the number
  // of events written to `events`, 0 on timeout or on a signal (EINTR), -1 on other errors.
  int wait(epoll_event* events, int max_events, int64_t timeout_ns);

 private:
  int fd_;
};

}  // namespace loadgen
