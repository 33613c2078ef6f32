// The writing half of the connection state machine: respond() turns JS's
// answer into one sendmsg of prebuilt head pieces and the body; an unsent rest
// is copied (only then) and finished on EPOLLOUT; after the last byte the
// connection closes or goes back to kHead for its next (maybe pipelined)
// request. See connections.h for the states.
#include <errno.h>
#include <sys/socket.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "connections.h"
#include "socket_send.h"

namespace megacomet {

bool Connections::respond(std::uint32_t slot, std::uint32_t gen, const ResponseInput& r) {
  if (stopped_ || !table_.live(slot)) return false;
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
  int n = templates_->gather(spec, tail, iov, &total);
  write_response(slot, iov, n, total);
  return true;
}

void Connections::write_response(std::uint32_t slot, const iovec* iov, int iov_count, std::size_t total) {
  Connection& c = table_.at(slot);
  ssize_t w = send_gathered(c.fd, iov, iov_count);
  if (w < 0) {
    close_connection(slot);
    return;
  }
  std::size_t sent = static_cast<std::size_t>(w);
  if (sent == total) {
    response_done(slot);
    return;
  }
  // Keep only the unsent rest; EPOLLOUT (already registered) finishes it.
  if (!byte_buffer_append_rest(&c.out, iov, iov_count, sent)) {
    close_connection(slot);
    return;
  }
  c.state = ConnState::kWriting;
  // A peer that stops reading is closed after the keep-alive timeout without progress.
  timers_.arm(slot, config_.keep_alive_timeout_ms);
}

void Connections::on_writable(std::uint32_t slot) {
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

void Connections::response_done(std::uint32_t slot) {
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

void Connections::resume(std::uint32_t slot) {
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

}  // namespace megacomet
