// An epoll set watched from a libuv loop through a single uv_poll_t.
//
// The engine's sockets are registered here, never with libuv one by one: libuv
// sees one fd (the epoll fd) that turns readable while any socket is ready.
// Around it sit three more handles on the same loop, each with one job:
//   timer  a one-shot tick at the engine's next deadline, re-armed by the owner
//          from on_tick(): a loop with nothing due never wakes for time;
//   idle   started on demand: keeps the loop from blocking in its poll phase
//          while the engine has work or events pending, and runs deferred work;
//   check  runs after every poll phase: the one place events are handed to JS.
// All four are created by start() and closed by shutdown(). Their memory is a
// block of its own that frees itself once libuv has run every close callback,
// so the object that owns this loop may go away before that happens.
//
// Only event_loop.cc includes uv.h; nothing here needs napi.
#pragma once

#include <sys/epoll.h>

#include <cstdint>

struct uv_loop_s;

namespace megacomet {

// The engine's unit of coarse time: a timer fires between its time and one tick
// later, and a listener paused for want of file descriptors tries again a tick
// later.
inline constexpr std::uint32_t kTickMs = 100;

// What the loop calls back into. All calls happen on the loop's thread.
class LoopHandler {
 public:
  virtual void on_epoll_ready() = 0;  // the epoll set has ready sockets: drain it
  virtual void on_tick() = 0;         // the time asked for by tick_at() has come
  virtual void on_idle() = 0;         // before the poll phase, while woken: deferred work
  virtual void on_check() = 0;        // after the poll phase, every iteration: hand events over

 protected:
  ~LoopHandler() = default;
};

struct UvHandles;

class EventLoop {
 public:
  EventLoop(uv_loop_s* loop, LoopHandler* handler) : loop_(loop), handler_(handler) {}
  ~EventLoop();
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  // Creates the epoll set. Returns false with errno set on failure.
  bool open();
  bool opened() const { return epoll_fd_ >= 0; }
  // Creates the libuv handles and starts watching the epoll set. Returns 0 or a
  // negative libuv error code.
  int start();
  bool started() const { return handles_ != nullptr; }

  // epoll_ctl wrappers; false with errno set on failure. `data` comes back in
  // epoll_event::data.u64.
  bool add(int fd, std::uint32_t events, std::uint64_t data);
  bool modify(int fd, std::uint32_t events, std::uint64_t data);
  // Non-blocking epoll_wait; returns the count (0 on error).
  int wait(epoll_event* events, int max);

  // Calls on_tick() once, at or after loop time `due_ms` (never before), unless
  // an earlier tick is already pending: the owner asks for each deadline and
  // asks again from on_tick() for the next one.
  void tick_at(std::uint64_t due_ms);
  void cancel_tick();
  // Keeps the next loop iterations from blocking and calls on_idle() in each,
  // until sleep().
  void wake();
  void sleep();
  // The loop's cached time in milliseconds.
  std::uint64_t now_ms() const;

  // Stops watching, closes the epoll set and the libuv handles. `done(arg)`, if
  // given, runs once libuv has closed every handle (at once when start() never
  // ran). Idempotent: later calls do nothing and never call their `done`.
  void shutdown(void (*done)(void*), void* arg);

 private:
  uv_loop_s* loop_;
  LoopHandler* handler_;
  int epoll_fd_ = -1;
  UvHandles* handles_ = nullptr;
  bool woken_ = false;
  bool shut_down_ = false;
};

}  // namespace megacomet
