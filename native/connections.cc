// The connection set as a whole: adopting sockets, routing readiness, acting
// on deadlines, deferred work and the event batch, drain and hard close. See
// connections.h for the states and the re-entrancy rules.
#include "connections.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

namespace megacomet {

Connections::Connections(const ConnectionConfig& config, const ResponseTemplates* templates,
                         EventLoop* loop, Admission* admission, std::uint8_t* events,
                         std::size_t events_capacity, EventSink* sink)
    : config_(config),
      templates_(templates),
      loop_(loop),
      admission_(admission),
      timers_(loop),
      events_(events, events_capacity),
      sink_(sink) {}

// ---- the set: setup, drain, hard close ----------------------------------------

bool Connections::reserve(std::uint32_t capacity) {
  return table_.records() != nullptr || table_.init(capacity);
}

void Connections::start(char* scratch) {
  timers_.start(table_.records());
  scratch_ = scratch;
  deferred_.reserve(1024);
  deferred_now_.reserve(1024);
}

Adoption Connections::adopt(int fd) {
  std::uint32_t slot = table_.acquire(fd);
  if (slot == kNoSlot) return Adoption::kNoRoom;
  // Whole responses go out in one sendmsg; without this, a pipelined answer
  // behind an unacknowledged one waits for the peer's delayed ACK.
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!loop_->add(fd, kConnectionEvents, slot)) {
    table_.release(slot);
    return Adoption::kFailed;
  }
  timers_.arm(slot, config_.head_timeout_ms);
  return Adoption::kAdopted;
}

void Connections::drain() {
  if (stopped_ || draining_) return;
  draining_ = true;
  for (std::uint32_t slot = 0; slot < table_.high_water(); ++slot) {
    Connection& c = table_.at(slot);
    if (c.state == ConnState::kHead) {
      close_connection(slot);
    } else if (c.state == ConnState::kWriting) {
      c.flags |= kCloseAfterWrite;
    }
  }
}

void Connections::close_all() {
  for (std::uint32_t slot = 0; slot < table_.high_water(); ++slot) {
    Connection& c = table_.at(slot);
    if (c.state == ConnState::kFree) continue;
    std::free(c.in);
    std::free(c.out);
    ::close(c.fd);
    table_.release(slot);
  }
  admission_->forget_open();
  held_ = 0;
  streams_ = 0;
}

// ---- readiness ----------------------------------------------------------------

void Connections::on_ready(std::uint32_t slot, std::uint32_t e) {
  if (!table_.live(slot)) return;  // closed earlier in this batch
  if (e & (EPOLLERR | EPOLLHUP)) {
    on_peer_gone(slot);
    return;
  }
  Connection& c = table_.at(slot);
  if ((e & EPOLLOUT) && c.state == ConnState::kWriting) on_writable(slot);
  if ((e & EPOLLOUT) && c.state == ConnState::kStreaming) on_stream_writable(slot);
  if ((e & EPOLLIN) && c.state != ConnState::kFree) read_input(slot);
  if ((e & EPOLLRDHUP) && c.state != ConnState::kFree) on_peer_half_closed(slot);
}

// ---- held requests and deadlines ------------------------------------------------

bool Connections::begin_held(std::uint32_t slot, std::uint32_t gen) {
  if (stopped_ || !table_.live(slot)) return false;
  Connection& c = table_.at(slot);
  if (c.state != ConnState::kOutstanding || c.gen != gen) return false;
  if (c.has(kPeerClosed)) {
    // The peer left before JS saw its request: nothing to hold, nobody to answer.
    close_connection(slot);
    return false;
  }
  if (!c.has(kHeld)) {
    c.flags |= kHeld;
    ++held_;
  }
  return true;
}

bool Connections::hold(std::uint32_t slot, std::uint32_t gen, std::uint32_t timeout_ms) {
  if (!begin_held(slot, gen)) return false;
  timers_.arm(slot, timeout_ms);
  return true;
}

void Connections::on_tick() {
  // The list is not touched by anything on_timer can cause (JS cannot run the wheel).
  const std::vector<std::uint32_t>& expired = timers_.expire();
  for (std::size_t i = 0; i < expired.size() && !stopped_; ++i) on_timer(expired[i]);
}

void Connections::on_timer(std::uint32_t slot) {
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
      loop_->wake();
      return;
    case ConnState::kStreaming:
      on_stream_timer(slot);
      return;
    case ConnState::kFree:
      return;
  }
}

// ---- deferred work ----------------------------------------------------------------

void Connections::defer(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  if (c.has(kDeferred)) return;
  c.flags |= kDeferred;
  deferred_.push_back(slot);
  loop_->wake();
}

void Connections::run_deferred() {
  deferred_now_.swap(deferred_);
  for (std::size_t i = 0; i < deferred_now_.size() && !stopped_; ++i) {
    std::uint32_t slot = deferred_now_[i];
    Connection& c = table_.at(slot);
    // A slot closed meanwhile has no flags; one reused meanwhile was queued anew.
    if (c.state == ConnState::kFree || !c.has(kDeferred)) continue;
    c.flags &= static_cast<std::uint8_t>(~kDeferred);
    resume(slot);
  }
  deferred_now_.clear();
}

// ---- events -------------------------------------------------------------------------

bool Connections::make_room(std::size_t bytes) {
  if (!events_.fits(bytes)) flush();
  return !stopped_;
}

void Connections::flush() {
  if (events_.empty()) return;
  std::uint32_t count = events_.count();
  std::uint32_t bytes = events_.bytes();
  // Nothing JS can call appends events (its work is deferred), so the records
  // stay intact while it reads them.
  sink_->deliver(count, bytes);
  events_.clear();
}

}  // namespace megacomet
