#include "event_loop.h"

#include <errno.h>
#include <unistd.h>
#include <uv.h>

namespace megacomet {

constexpr std::uint64_t kNoTick = ~std::uint64_t{0};

struct UvHandles {
  uv_poll_t poll;
  uv_timer_t timer;
  uv_idle_t idle;
  uv_check_t check;
  LoopHandler* handler;  // null once shut down: late callbacks do nothing
  std::uint64_t tick_due = kNoTick;  // loop time of the pending tick
  int open = 0;          // handles not yet closed
  void (*done)(void*) = nullptr;
  void* done_arg = nullptr;
};

namespace {

UvHandles* handles_of(uv_handle_t* h) { return static_cast<UvHandles*>(h->data); }

void on_poll(uv_poll_t* h, int /*status*/, int /*events*/) {
  // On an error status there is nothing better to do than to drain the set:
  // epoll_wait reports any problem with the sockets themselves.
  UvHandles* hs = handles_of(reinterpret_cast<uv_handle_t*>(h));
  if (hs->handler != nullptr) hs->handler->on_epoll_ready();
}
void on_timer(uv_timer_t* h) {
  UvHandles* hs = handles_of(reinterpret_cast<uv_handle_t*>(h));
  hs->tick_due = kNoTick;  // one-shot: the handler asks for the next one
  if (hs->handler != nullptr) hs->handler->on_tick();
}
void on_idle(uv_idle_t* h) {
  UvHandles* hs = handles_of(reinterpret_cast<uv_handle_t*>(h));
  if (hs->handler != nullptr) hs->handler->on_idle();
}
void on_check(uv_check_t* h) {
  UvHandles* hs = handles_of(reinterpret_cast<uv_handle_t*>(h));
  if (hs->handler != nullptr) hs->handler->on_check();
}
void on_closed(uv_handle_t* h) {
  UvHandles* hs = handles_of(h);
  if (--hs->open > 0) return;
  if (hs->done != nullptr) hs->done(hs->done_arg);
  delete hs;
}

}  // namespace

EventLoop::~EventLoop() { shutdown(nullptr, nullptr); }

bool EventLoop::open() {
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  return epoll_fd_ >= 0;
}

int EventLoop::start() {
  if (handles_ != nullptr) return 0;
  auto* hs = new UvHandles();
  hs->handler = handler_;
  int rc = uv_poll_init(loop_, &hs->poll, epoll_fd_);
  if (rc != 0) {
    delete hs;
    return rc;
  }
  // From here on every handle is initialised and must be closed, never deleted.
  uv_timer_init(loop_, &hs->timer);
  uv_idle_init(loop_, &hs->idle);
  uv_check_init(loop_, &hs->check);
  hs->poll.data = hs->timer.data = hs->idle.data = hs->check.data = hs;
  hs->open = 4;
  handles_ = hs;
  // Only the poll handle keeps the loop alive (like a listening net.Server): the
  // others run while it does and must not hold a finished thread open.
  uv_unref(reinterpret_cast<uv_handle_t*>(&hs->timer));
  uv_unref(reinterpret_cast<uv_handle_t*>(&hs->idle));
  uv_unref(reinterpret_cast<uv_handle_t*>(&hs->check));
  uv_check_start(&hs->check, on_check);
  return uv_poll_start(&hs->poll, UV_READABLE, on_poll);
}

bool EventLoop::add(int fd, std::uint32_t events, std::uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0;
}

bool EventLoop::modify(int fd, std::uint32_t events, std::uint64_t data) {
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = data;
  return epoll_ctl(epoll_fd_, EPOLL_CTL_MOD, fd, &ev) == 0;
}

int EventLoop::wait(epoll_event* events, int max) {
  if (epoll_fd_ < 0) return 0;
  int n;
  do {
    n = epoll_wait(epoll_fd_, events, max, 0);
  } while (n < 0 && errno == EINTR);
  return n < 0 ? 0 : n;
}

void EventLoop::tick_at(std::uint64_t due_ms) {
  if (handles_ == nullptr || due_ms >= handles_->tick_due) return;
  handles_->tick_due = due_ms;
  std::uint64_t now = uv_now(loop_);
  // libuv fires when the loop time reaches start + timeout: never early.
  uv_timer_start(&handles_->timer, on_timer, due_ms > now ? due_ms - now : 0, 0);
}

void EventLoop::cancel_tick() {
  if (handles_ == nullptr || handles_->tick_due == kNoTick) return;
  handles_->tick_due = kNoTick;
  uv_timer_stop(&handles_->timer);
}

void EventLoop::wake() {
  if (woken_ || handles_ == nullptr) return;
  woken_ = true;
  uv_idle_start(&handles_->idle, on_idle);
}

void EventLoop::sleep() {
  if (!woken_ || handles_ == nullptr) return;
  woken_ = false;
  uv_idle_stop(&handles_->idle);
}

std::uint64_t EventLoop::now_ms() const { return uv_now(loop_); }

void EventLoop::shutdown(void (*done)(void*), void* arg) {
  if (shut_down_) return;
  shut_down_ = true;
  UvHandles* hs = handles_;
  handles_ = nullptr;
  if (hs != nullptr) {
    hs->handler = nullptr;
    hs->done = done;
    hs->done_arg = arg;
    // uv_poll_stop takes the epoll fd out of libuv's own epoll set right away, so
    // closing it below cannot leave libuv watching a dead (or reused) fd.
    uv_poll_stop(&hs->poll);
    uv_close(reinterpret_cast<uv_handle_t*>(&hs->poll), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&hs->timer), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&hs->idle), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&hs->check), on_closed);
  }
  if (epoll_fd_ >= 0) {
    ::close(epoll_fd_);
    epoll_fd_ = -1;
  }
  if (hs == nullptr && done != nullptr) done(arg);
}

}  // namespace megacomet
