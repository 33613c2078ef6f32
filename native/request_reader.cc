// The reading half of the connection state machine: bytes from the socket into
// the scratch buffer, request heads parsed in place and reported as REQUEST
// events, request bodies dropped, pipelined bytes kept for later, and the
// engine's own error answers to heads it refuses. See connections.h for the
// states and why readiness is edge-triggered.
#include <errno.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstddef>
#include <cstdlib>

#include "connections.h"
#include "http_parser.h"

namespace megacomet {

bool Connections::has_more_input(const Connection& c) const {
  return (c.in != nullptr && c.in->len > 0) || c.has(kReadPending);
}

bool Connections::wants_input(const Connection& c) const {
  switch (c.state) {
    case ConnState::kHead:
      return true;
    case ConnState::kOutstanding:
      // Only to drop the rest of a request body; anything after it waits in the
      // kernel until the request is answered.
      return c.in != nullptr && c.in->discard > 0;
    default:
      return false;
  }
}

void Connections::read_input(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  for (;;) {
    if (c.state == ConnState::kFree || stopped_) return;
    if (c.state == ConnState::kLingering) {
      drain_lingering(slot);
      return;
    }
    if (!wants_input(c)) {
      c.flags |= kReadPending;
      return;
    }
    ssize_t n = recv(c.fd, scratch_, kReadScratchBytes, 0);
    if (n > 0) {
      consume_input(slot, scratch_, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < kReadScratchBytes) {
        // A short read drained the socket: the next byte brings a new edge.
        c.flags &= static_cast<std::uint8_t>(~kReadPending);
        return;
      }
      continue;
    }
    if (n == 0) {
      on_peer_half_closed(slot);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      c.flags &= static_cast<std::uint8_t>(~kReadPending);
      return;
    }
    on_peer_gone(slot);
    return;
  }
}

void Connections::consume_input(std::uint32_t slot, const char* data, std::size_t len) {
  Connection& c = table_.at(slot);
  if (c.in != nullptr && c.in->discard > 0) {
    std::size_t skip = std::min<std::size_t>(len, c.in->discard);
    c.in->discard -= static_cast<std::uint32_t>(skip);
    data += skip;
    len -= skip;
    if (len == 0) {
      byte_buffer_release_if_empty(&c.in);
      return;
    }
  }
  if (c.state != ConnState::kHead) {
    // Pipelined bytes behind an outstanding request: kept, parsed after respond().
    if (!byte_buffer_append(&c.in, data, len)) close_connection(slot);
    return;
  }
  if (c.in != nullptr && c.in->len > 0) {
    if (!byte_buffer_append(&c.in, data, len)) {
      close_connection(slot);
      return;
    }
    parse_head(slot, c.in->begin(), c.in->len, /*buffered=*/true, /*head_started=*/true);
    return;
  }
  byte_buffer_release_if_empty(&c.in);
  parse_head(slot, data, len, /*buffered=*/false, /*head_started=*/false);
}

void Connections::parse_head(std::uint32_t slot, const char* data, std::size_t len, bool buffered,
                        bool head_started) {
  Connection& c = table_.at(slot);
  HttpRequest req;
  std::size_t consumed = 0;
  switch (parse_request_head(data, len, &req, &consumed)) {
    case ParseStatus::kPartial:
      if (!buffered && !byte_buffer_append(&c.in, data, len)) {
        close_connection(slot);
        return;
      }
      // The head timeout counts from the head's first byte.
      if (!head_started) timers_.arm(slot, config_.head_timeout_ms);
      return;
    case ParseStatus::kError:
      answer_error(slot, HttpError::kBadRequest);
      return;
    case ParseStatus::kTooLarge:
      answer_error(slot, HttpError::kHeadersTooLarge);
      return;
    case ParseStatus::kComplete:
      break;
  }
  if (req.has_transfer_encoding) {
    answer_error(slot, HttpError::kNotImplemented);
    return;
  }
  if (req.content_length > kMaxBodyBytes) {
    answer_error(slot, HttpError::kPayloadTooLarge);
    return;
  }
  // The one header value JS needs, by method (src/engine/events.ts): a preflight's
  // Access-Control-Request-Headers, a GET's Last-Event-ID.
  std::string_view acrh;
  if (req.method == Method::kOptions) acrh = req.access_control_request_headers;
  if (req.method == Method::kGet) acrh = req.last_event_id;
  if (!make_room(EventBatch::record_size(req.target.size(), acrh.size()))) return;
  // make_room may have run JS; drain() closes connections in kHead. Nothing else
  // JS can do touches this connection or the bytes `req` points into.
  if (c.state != ConnState::kHead) return;

  c.gen = next_generation(c.gen);
  events_.append(EventType::kRequest, static_cast<std::uint8_t>(req.method), slot, c.gen, req.target,
                 acrh);
  loop_->wake();
  timers_.cancel(slot);
  c.state = ConnState::kOutstanding;
  std::uint8_t kept = c.flags & (kReadPending | kPeerClosed | kDeferred);
  c.flags = static_cast<std::uint8_t>(kept | (req.keep_alive ? kKeepAlive : 0) |
                                      (req.version_minor == 0 ? kHttp10 : 0) |
                                      (req.method == Method::kHead ? kHeadRequest : 0));

  // What follows the head: first the body (dropped), then pipelined bytes (kept).
  std::size_t after_head = len - consumed;
  std::size_t skip = static_cast<std::size_t>(std::min<std::uint64_t>(req.content_length, after_head));
  std::size_t used = consumed + skip;
  std::uint32_t discard = static_cast<std::uint32_t>(req.content_length - skip);
  if (buffered) {
    c.in->off += static_cast<std::uint32_t>(used);
    c.in->len -= static_cast<std::uint32_t>(used);
  } else if (len > used && !byte_buffer_append(&c.in, data + used, len - used)) {
    close_connection(slot);
    return;
  }
  if (discard > 0) {
    if (c.in == nullptr && (c.in = byte_buffer_new(0)) == nullptr) {
      close_connection(slot);
      return;
    }
    c.in->discard = discard;
  }
  byte_buffer_release_if_empty(&c.in);
}

void Connections::answer_error(std::uint32_t slot, HttpError error) {
  Connection& c = table_.at(slot);
  if (error != HttpError::kServiceUnavailable) ++bad_requests_;
  std::free(c.in);
  c.in = nullptr;
  timers_.cancel(slot);
  c.flags = static_cast<std::uint8_t>((c.flags & kPeerClosed) | kCloseAfterWrite);
  std::string_view r = templates_->error(error);
  iovec iov{const_cast<char*>(r.data()), r.size()};
  write_response(slot, &iov, 1, r.size());
}

}  // namespace megacomet
