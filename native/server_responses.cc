// Writing responses and closing connections. See server.h for the states.
#include <errno.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "server.h"
#include "server_constants.h"

namespace megacomet {

// ---- responses --------------------------------------------------------------

bool Server::respond(std::uint32_t slot, std::uint32_t gen, const ResponseInput& r) {
  if (closing_ || !table_.live(slot)) return false;
  Connection& c = table_.at(slot);
  if (c.state != ConnState::kOutstanding || c.gen != gen) return false;
  bool close_after = !c.has(kKeepAlive) || draining_ || (c.has(kPeerClosed) && !has_more_input(c));
  ResponseSpec spec{};
  spec.status = r.status;
  spec.kind = r.kind;
  spec.body = r.body;
  spec.body_len = r.body_len;
  spec.extra_headers = r.extra_headers;
  spec.extra_len = r.extra_len;
  spec.omit_body = c.has(kHeadRequest);
  spec.connection = close_after           ? ConnectionHeader::kClose
                    : c.has(kHttp10)      ? ConnectionHeader::kKeepAlive
                                          : ConnectionHeader::kNone;
  if (c.has(kHeld)) --held_;
  timers_.cancel(slot);
  c.flags &= static_cast<std::uint8_t>(~(kHeld | kKeepAlive | kHttp10 | kHeadRequest));
  if (close_after) c.flags |= kCloseAfterWrite;
  char tail[kResponseTailBytes];
  iovec iov[kResponseMaxIov];
  std::size_t total = 0;
  int n = templates_.gather(spec, tail, iov, &total);
  write_response(slot, iov, n, total);
  return true;
}

bool Server::hold(std::uint32_t slot, std::uint32_t gen, std::uint32_t timeout_ms) {
  if (closing_ || !table_.live(slot)) return false;
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
  timers_.arm(slot, timeout_ms);
  return true;
}

void Server::write_response(std::uint32_t slot, const iovec* iov, int iov_count, std::size_t total) {
  Connection& c = table_.at(slot);
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<std::size_t>(iov_count);
  ssize_t w;
  do {
    // sendmsg is writev with flags: MSG_NOSIGNAL spares us SIGPIPE on a dead peer.
    w = sendmsg(c.fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (w < 0 && errno == EINTR);
  if (w < 0) {
    if (errno != EAGAIN) {
      close_connection(slot);
      return;
    }
    w = 0;
  }
  std::size_t sent = static_cast<std::size_t>(w);
  if (sent == total) {
    response_done(slot);
    return;
  }
  // Keep only the unsent rest; EPOLLOUT (already registered) finishes it.
  ByteBuffer* out = byte_buffer_new(total - sent);
  if (out == nullptr) {
    close_connection(slot);
    return;
  }
  std::size_t skip = sent;
  for (int i = 0; i < iov_count; ++i) {
    const char* base = static_cast<const char*>(iov[i].iov_base);
    std::size_t len = iov[i].iov_len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    std::memcpy(out->data + out->len, base + skip, len - skip);
    out->len += static_cast<std::uint32_t>(len - skip);
    skip = 0;
  }
  c.out = out;
  c.state = ConnState::kWriting;
  // A peer that stops reading is closed after the keep-alive timeout without progress.
  timers_.arm(slot, config_.keep_alive_timeout_ms);
}

void Server::on_writable(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  ByteBuffer* out = c.out;
  bool progressed = false;
  while (out->len > 0) {
    ssize_t w = send(c.fd, out->begin(), out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      out->off += static_cast<std::uint32_t>(w);
      out->len -= static_cast<std::uint32_t>(w);
      progressed = true;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) break;
    close_connection(slot);
    return;
  }
  if (out->len == 0) {
    response_done(slot);
  } else if (progressed) {
    timers_.arm(slot, config_.keep_alive_timeout_ms);
  }
}

void Server::response_done(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  std::free(c.out);
  c.out = nullptr;
  bool more = has_more_input(c);
  if (c.has(kCloseAfterWrite) || draining_ || (c.has(kPeerClosed) && !more)) {
    finish_connection(slot);
    return;
  }
  c.state = ConnState::kHead;
  timers_.arm(slot, config_.keep_alive_timeout_ms);
  // respond() may run inside JS: parsing (and reporting) the next request waits
  // for the idle pass rather than re-entering JS from here.
  if (more) defer(slot);
}

void Server::resume(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  if (c.state == ConnState::kLingering) {
    drain_lingering(slot);
    return;
  }
  if (c.state != ConnState::kHead) return;
  if (c.in != nullptr && c.in->len > 0) {
    parse_head(slot, c.in->begin(), c.in->len, /*buffered=*/true, /*head_started=*/false);
  }
  if (c.state != ConnState::kHead) return;
  if (c.has(kReadPending)) {
    read_input(slot);
  } else if (c.has(kPeerClosed)) {
    close_connection(slot);  // a partial head after the peer's FIN never completes
  }
}

// ---- closing ----------------------------------------------------------------

void Server::finish_connection(std::uint32_t slot) {
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

void Server::drain_lingering(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  std::size_t total = 0;
  for (;;) {
    ssize_t n = recv(c.fd, scratch_.get(), kReadScratchBytes, 0);
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

void Server::on_peer_gone(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  if (c.state == ConnState::kOutstanding && c.has(kHeld)) {
    report_closed_and_close(slot);
    return;
  }
  close_connection(slot);
}

void Server::on_peer_half_closed(std::uint32_t slot) {
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
    case ConnState::kFree:
      return;
  }
}

void Server::close_connection(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  timers_.cancel(slot);
  if (c.has(kHeld)) --held_;
  std::free(c.in);
  std::free(c.out);
  ::close(c.fd);  // also leaves the epoll set
  acceptor_.admission().closed();
  table_.release(slot);
}

}  // namespace megacomet
