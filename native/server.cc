// Server lifecycle, adopting accepted connections, timers and event hand-over.
// Accepting is in acceptor.cc; the bytes of one connection are in
// server_requests.cc (read, parse) and server_responses.cc (write, close).
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "errno_text.h"
#include "server_constants.h"

namespace megacomet {

namespace {

AcceptorConfig acceptor_config(const ServerConfig& c) {
  AcceptorConfig a;
  a.host = c.host;
  a.port = c.port;
  a.backlog = c.backlog;
  a.max_connections = c.max_connections;
  a.shared_connections = c.shared_connections;
  return a;
}

}  // namespace

Server::Busy::~Busy() {
  if (--s_->busy_ == 0 && s_->closing_ && !s_->closed_) s_->finish_close();
}

Server::Server(const ServerConfig& config, uv_loop_s* loop, std::uint8_t* events,
               std::size_t events_capacity, EventSink* sink)
    : config_(config),
      templates_(config.cors_origin),
      loop_(loop, this),
      acceptor_(acceptor_config(config), &loop_, templates_.error(HttpError::kServiceUnavailable)),
      timers_(&loop_),
      events_(events, events_capacity),
      sink_(sink) {}

Server::~Server() {
  close(nullptr, nullptr);
  if (!closed_) finish_close();
}

int Server::listen(std::string* error) {
  if (closing_) {
    *error = "the engine is closed; create a new one";
    return -1;
  }
  if (listening_ || draining_) {
    *error = "listen() may be called once, and not after drain()";
    return -1;
  }
  // A failed listen() (say EADDRINUSE) may be retried: set these up once.
  if (table_.records() == nullptr && !table_.init(config_.max_connections)) {
    *error = "cannot reserve the connection table for " + std::to_string(config_.max_connections) +
             " connections: " + describe_errno(errno) + "; lower maxConnections";
    return -1;
  }
  if (!loop_.opened() && !loop_.open()) {
    *error = "cannot create an epoll set: " + describe_errno(errno);
    return -1;
  }
  int port = acceptor_.open(error);
  if (port < 0) return -1;
  int rc = loop_.start();
  if (rc != 0) {
    *error = std::string("cannot watch the epoll set from the libuv loop: error ") + std::to_string(rc);
    acceptor_.stop();
    return -1;
  }
  timers_.start(table_.records());
  scratch_ = std::make_unique<char[]>(kReadScratchBytes);
  ready_ = std::make_unique<epoll_event[]>(kEpollBatch);
  deferred_.reserve(1024);
  deferred_now_.reserve(1024);
  acceptor_.start(scratch_.get(), kReadScratchBytes);
  listening_ = true;
  return port;
}

void Server::close(void (*done)(void*), void* arg) {
  if (closing_) return;
  closing_ = true;
  close_done_ = done;
  close_arg_ = arg;
  if (busy_ == 0) finish_close();
}

void Server::finish_close() {
  closed_ = true;
  for (std::uint32_t slot = 0; slot < table_.high_water(); ++slot) {
    Connection& c = table_.at(slot);
    if (c.state == ConnState::kFree) continue;
    std::free(c.in);
    std::free(c.out);
    ::close(c.fd);
    table_.release(slot);
  }
  acceptor_.admission().forget_open();
  held_ = 0;
  acceptor_.close();
  void (*done)(void*) = close_done_;
  close_done_ = nullptr;
  loop_.shutdown(done, close_arg_);
}

void Server::drain() {
  if (closing_ || draining_) return;
  draining_ = true;
  acceptor_.stop();
  for (std::uint32_t slot = 0; slot < table_.high_water(); ++slot) {
    Connection& c = table_.at(slot);
    if (c.state == ConnState::kHead) {
      close_connection(slot);
    } else if (c.state == ConnState::kWriting) {
      c.flags |= kCloseAfterWrite;
    }
  }
}

ServerStats Server::stats() const {
  ServerStats s;
  s.connections = acceptor_.open();
  s.held = held_;
  s.accepted = acceptor_.accepted();
  s.refused = acceptor_.refused();
  s.bad_requests = bad_requests_;
  return s;
}

// ---- loop callbacks ---------------------------------------------------------

void Server::on_epoll_ready() {
  Busy busy(this);
  for (int round = 0; round < kMaxEpollRounds && !closing_; ++round) {
    // Safe here and only here: no event of an earlier batch is in hand.
    table_.recycle();
    int n = loop_.wait(ready_.get(), kEpollBatch);
    for (int i = 0; i < n && !closing_; ++i) dispatch(ready_[i]);
    if (n < kEpollBatch) break;
    // A full batch: more may be ready. The rounds are bounded so other handles on
    // this loop get their turn; libuv calls again while the set stays readable.
  }
}

void Server::dispatch(const epoll_event& ev) {
  std::uint32_t slot = static_cast<std::uint32_t>(ev.data.u64);
  if (slot == kListenerData) {
    acceptor_.on_ready([this](int fd) { return adopt(fd); });
    return;
  }
  if (!table_.live(slot)) return;  // closed earlier in this batch
  std::uint32_t e = ev.events;
  if (e & (EPOLLERR | EPOLLHUP)) {
    on_peer_gone(slot);
    return;
  }
  Connection& c = table_.at(slot);
  if ((e & EPOLLOUT) && c.state == ConnState::kWriting) on_writable(slot);
  if ((e & EPOLLIN) && c.state != ConnState::kFree) read_input(slot);
  if ((e & EPOLLRDHUP) && c.state != ConnState::kFree) on_peer_half_closed(slot);
}

void Server::on_tick() {
  Busy busy(this);
  if (closing_) return;
  // The list is not touched by anything on_timer can cause (JS cannot run the wheel).
  const std::vector<std::uint32_t>& expired = timers_.expire();
  for (std::size_t i = 0; i < expired.size() && !closing_; ++i) on_timer(expired[i]);
  if (closing_) return;
  acceptor_.on_tick();
  if (timers_.empty()) loop_.stop_ticks();
}

void Server::on_idle() {
  Busy busy(this);
  if (closing_) return;
  run_deferred();
}

void Server::on_check() {
  Busy busy(this);
  if (closing_) return;
  flush();
  if (!closing_ && deferred_.empty() && events_.empty()) loop_.sleep();
}

// ---- adopting connections --------------------------------------------------

Adoption Server::adopt(int fd) {
  std::uint32_t slot = table_.acquire(fd);
  if (slot == kNoSlot) return Adoption::kNoRoom;
  // Whole responses go out in one sendmsg; without this, a pipelined answer
  // behind an unacknowledged one waits for the peer's delayed ACK.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!loop_.add(fd, kConnectionEvents, slot)) {
    table_.release(slot);
    return Adoption::kFailed;
  }
  timers_.arm(slot, config_.head_timeout_ms);
  return Adoption::kAdopted;
}

// ---- timers -----------------------------------------------------------------

void Server::on_timer(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  // Closed, or re-armed, since the tick collected it.
  if (c.state == ConnState::kFree || timers_.armed(slot)) return;
  switch (c.state) {
    case ConnState::kHead:       // head not complete in time, or keep-alive idle
    case ConnState::kWriting:    // the peer stopped reading
    case ConnState::kLingering:  // the peer never closed its side
      close_connection(slot);
      return;
    case ConnState::kOutstanding:
      if (!c.has(kHeld)) return;
      if (!make_room(kEventHeaderBytes)) return;
      // make_room may have run JS, which may have answered or re-held it.
      if (c.state != ConnState::kOutstanding || !c.has(kHeld) || timers_.armed(slot)) return;
      events_.append(EventType::kTimeout, 0, slot, c.gen, {}, {});
      loop_.wake();
      return;
    case ConnState::kFree:
      return;
  }
}

// ---- events -----------------------------------------------------------------

bool Server::make_room(std::size_t bytes) {
  if (!events_.fits(bytes)) flush();
  return !closing_;
}

void Server::flush() {
  if (events_.empty()) return;
  std::uint32_t count = events_.count();
  std::uint32_t bytes = events_.bytes();
  // Nothing JS can call appends events (its work is deferred), so the records
  // stay intact while it reads them.
  sink_->deliver(count, bytes);
  events_.clear();
}

void Server::defer(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  if (c.has(kDeferred)) return;
  c.flags |= kDeferred;
  deferred_.push_back(slot);
  loop_.wake();
}

void Server::run_deferred() {
  deferred_now_.swap(deferred_);
  for (std::size_t i = 0; i < deferred_now_.size() && !closing_; ++i) {
    std::uint32_t slot = deferred_now_[i];
    Connection& c = table_.at(slot);
    // A slot closed meanwhile has no flags; one reused meanwhile was queued anew.
    if (c.state == ConnState::kFree || !c.has(kDeferred)) continue;
    c.flags &= static_cast<std::uint8_t>(~kDeferred);
    resume(slot);
  }
  deferred_now_.clear();
}

void Server::report_closed_and_close(std::uint32_t slot) {
  if (!make_room(kEventHeaderBytes)) return;
  Connection& c = table_.at(slot);
  if (c.state == ConnState::kFree) return;
  // JS may have answered it while make_room ran it: nothing to report then, but
  // the peer is gone all the same.
  if (c.state == ConnState::kOutstanding && c.has(kHeld)) {
    events_.append(EventType::kClosed, 0, slot, c.gen, {}, {});
    loop_.wake();
  }
  close_connection(slot);
}

}  // namespace megacomet
