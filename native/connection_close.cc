// How a connection ends: the peer leaving (error, hang-up, half-close), the
// lingering close after a final answer (write side shut, input drained until
// the peer closes, so a reset cannot destroy the answer), and releasing the
// record, its fd and its room in the acceptor's Admission. See connections.h
// for the states.
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>

#include "connections.h"

namespace megacomet {

// After the last response on a connection the engine shuts its write side and
// reads until the peer closes, at most this long: closing with unread input
// would send RST, which can destroy the response before the peer reads it.
inline constexpr std::uint32_t kLingerMs = 2000;
// A peer that keeps sending while we linger is closed after this much.
inline constexpr std::size_t kMaxLingerBytes = 1024 * 1024;

void Connections::finish_connection(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  if (c.has(kPeerClosed)) {
    close_connection(slot);
    return;
  }
  std::free(c.in);
  c.in = nullptr;
  shutdown(c.fd, SHUT_WR);
  bool unread = c.has(kReadPending);
  c.state = ConnState::kLingering;
  c.flags = 0;
  timers_.arm(slot, kLingerMs);
  // Reading now could clobber the scratch buffer under a caller's parsed request
  // (respond() runs inside JS, inside parsing): drain on the idle pass instead.
  if (unread) defer(slot);
}

void Connections::drain_lingering(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  std::size_t total = 0;
  for (;;) {
    ssize_t n = recv(c.fd, scratch_, kReadScratchBytes, 0);
    if (n > 0) {
      total += static_cast<std::size_t>(n);
      if (total > kMaxLingerBytes) break;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    break;  // EOF or error
  }
  close_connection(slot);
}

void Connections::on_peer_gone(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  if ((c.state == ConnState::kOutstanding && c.has(kHeld)) || c.state == ConnState::kStreaming) {
    report_closed_and_close(slot);
    return;
  }
  close_connection(slot);
}

void Connections::on_peer_half_closed(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  switch (c.state) {
    case ConnState::kOutstanding:
      if (c.has(kHeld)) {
        report_closed_and_close(slot);
      } else {
        // JS has the request (or will in this batch) and answers it; the answer
        // is written and the connection closed then.
        c.flags |= kPeerClosed;
      }
      return;
    case ConnState::kWriting:
      // Requests it sent before its FIN are still answered (response_done).
      c.flags |= kPeerClosed;
      return;
    case ConnState::kHead:
      if (c.has(kDeferred) && c.in != nullptr && c.in->len > 0) {
        // Pipelined requests wait for the idle pass: answer them, then close.
        c.flags |= kPeerClosed;
        return;
      }
      // Nothing outstanding, and a partial head can no longer complete.
      close_connection(slot);
      return;
    case ConnState::kLingering:
      close_connection(slot);
      return;
    case ConnState::kStreaming:
      // An EventSource closing (or a tab going away) ends the stream.
      report_closed_and_close(slot);
      return;
    case ConnState::kFree:
      return;
  }
}

void Connections::report_closed_and_close(std::uint32_t slot) {
  if (!make_room(kEventHeaderBytes)) return;
  Connection& c = table_.at(slot);
  if (c.state == ConnState::kFree) return;
  // JS may have answered it while make_room ran it: nothing to report then, but
  // the peer is gone all the same.
  if ((c.state == ConnState::kOutstanding && c.has(kHeld)) ||
      (c.state == ConnState::kStreaming && !c.has(kCloseAfterWrite))) {
    events_.append(EventType::kClosed, 0, slot, c.gen, {}, {});
    loop_->wake();
  }
  close_connection(slot);
}

void Connections::close_connection(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  timers_.cancel(slot);
  if (c.has(kHeld)) --held_;
  // An ended stream (kCloseAfterWrite) was uncounted by end_stream().
  if (c.state == ConnState::kStreaming && !c.has(kCloseAfterWrite)) --streams_;
  std::free(c.in);
  std::free(c.out);
  ::close(c.fd);  // also leaves the epoll set
  admission_->closed();
  table_.release(slot);
}

}  // namespace megacomet
