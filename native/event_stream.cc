// Event streams (Server-Sent Events, PROTOCOL.md "GET /events"): a request JS
// turns into a stream stays open in kStreaming; its head goes out at once and
// JS appends complete events later. The body has no Content-Length and no
// chunking: it runs until the connection closes (Connection: close), which is
// all an EventSource needs and costs no framing per write.
//
// What a stream costs while idle is what a held poll costs: the 40-byte record
// and its one timer in the wheel, which here is the heartbeat (a ":" comment
// line after heartbeat_ms without other bytes, so proxies do not close a
// silent stream) instead of the poll timeout. No buffer is kept once every
// byte is written.
//
// A slow reader: bytes the socket does not take are kept in the connection's
// output buffer and finished on EPOLLOUT. When they pass max_stream_buffer, or
// when kMaxStalledBeats heartbeats in a row find bytes unsent and no progress,
// the stream is closed (CLOSED is reported, or stream_write() says kClosed).
// Nothing is lost by that: every message written on a stream stays queued in
// the manager until its TTL or a later cursor passes it, so the client's
// reconnect with Last-Event-ID gets whatever it had not read.
#include <errno.h>
#include <sys/socket.h>

#include <cstdlib>

#include "connections.h"
#include "socket_send.h"

namespace megacomet {

namespace {

// Heartbeats in a row that may find unsent bytes with no progress before the
// reader is given up (at the default 15 s, a minute).
constexpr std::uint16_t kMaxStalledBeats = 4;
constexpr char kHeartbeat[] = ":\n";

}  // namespace

bool Connections::open_stream(std::uint32_t slot, std::uint32_t gen, const char* body, std::size_t len) {
  if (!begin_held(slot, gen)) return false;
  Connection& c = table_.at(slot);
  // The stream is the connection's last answer: nothing after the request is read.
  c.flags &= static_cast<std::uint8_t>(~(kKeepAlive | kHttp10 | kHeadRequest));
  c.state = ConnState::kStreaming;
  c.reserved = 0;
  ++streams_;
  timers_.arm(slot, config_.heartbeat_ms);
  std::string_view head = templates_->stream_head();
  iovec iov[2];
  iov[0].iov_base = const_cast<char*>(head.data());
  iov[0].iov_len = head.size();
  iov[1].iov_base = const_cast<char*>(body);
  iov[1].iov_len = len;
  if (!stream_send(slot, iov, len == 0 ? 1 : 2)) {
    close_connection(slot);
    return false;
  }
  return true;
}

StreamWrite Connections::stream_write(std::uint32_t slot, std::uint32_t gen, const char* data, std::size_t len) {
  if (stopped_ || !table_.live(slot)) return StreamWrite::kStale;
  Connection& c = table_.at(slot);
  if (c.state != ConnState::kStreaming || c.gen != gen || c.has(kCloseAfterWrite)) return StreamWrite::kStale;
  if (len == 0) return StreamWrite::kWritten;
  iovec iov;
  iov.iov_base = const_cast<char*>(data);
  iov.iov_len = len;
  if (!stream_send(slot, &iov, 1)) {
    close_connection(slot);
    return StreamWrite::kClosed;
  }
  // The heartbeat is for silent streams: this one just spoke.
  if (c.out == nullptr) timers_.arm(slot, config_.heartbeat_ms);
  return StreamWrite::kWritten;
}

bool Connections::end_stream(std::uint32_t slot, std::uint32_t gen) {
  if (stopped_ || !table_.live(slot)) return false;
  Connection& c = table_.at(slot);
  if (c.state != ConnState::kStreaming || c.gen != gen || c.has(kCloseAfterWrite)) return false;
  // From here JS has forgotten the stream: it is no longer held, and the peer
  // leaving reports nothing.
  --streams_;
  if (c.has(kHeld)) --held_;
  c.flags &= static_cast<std::uint8_t>(~kHeld);
  c.flags |= kCloseAfterWrite;
  if (c.out == nullptr) {
    finish_connection(slot);
    return true;
  }
  // The unsent rest goes first; a reader that stops taking it is closed after the keep-alive timeout.
  timers_.arm(slot, config_.keep_alive_timeout_ms);
  return true;
}

bool Connections::stream_send(std::uint32_t slot, const iovec* iov, int iov_count) {
  Connection& c = table_.at(slot);
  std::size_t skip = 0;
  if (c.out == nullptr) {
    std::size_t total = 0;
    for (int i = 0; i < iov_count; ++i) total += iov[i].iov_len;
    ssize_t w = send_gathered(c.fd, iov, iov_count);
    if (w < 0) return false;
    skip = static_cast<std::size_t>(w);
    if (skip == total) return true;
  }
  // Behind unsent bytes, or the socket took only part: keep the rest, in order.
  if (!byte_buffer_append_rest(&c.out, iov, iov_count, skip)) return false;
  return c.out == nullptr || c.out->len <= config_.max_stream_buffer;
}

void Connections::on_stream_writable(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  ByteBuffer* out = c.out;
  if (out == nullptr) return;
  while (out->len > 0) {
    ssize_t w = send(c.fd, out->begin(), out->len, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (w > 0) {
      out->off += static_cast<std::uint32_t>(w);
      out->len -= static_cast<std::uint32_t>(w);
      c.reserved = 0;
      continue;
    }
    if (w < 0 && errno == EINTR) continue;
    if (w < 0 && errno == EAGAIN) return;
    if (c.has(kCloseAfterWrite)) {
      close_connection(slot);
    } else {
      report_closed_and_close(slot);
    }
    return;
  }
  std::free(c.out);
  c.out = nullptr;
  if (c.has(kCloseAfterWrite)) finish_connection(slot);
}

void Connections::on_stream_timer(std::uint32_t slot) {
  Connection& c = table_.at(slot);
  if (c.has(kCloseAfterWrite)) {
    close_connection(slot);  // ended, and its reader never took the rest
    return;
  }
  if (c.out != nullptr) {
    // Bytes are waiting anyway, so no heartbeat is needed; count the stall.
    if (++c.reserved >= kMaxStalledBeats) {
      report_closed_and_close(slot);
      return;
    }
    timers_.arm(slot, config_.heartbeat_ms);
    return;
  }
  iovec iov;
  iov.iov_base = const_cast<char*>(kHeartbeat);
  iov.iov_len = sizeof kHeartbeat - 1;
  if (!stream_send(slot, &iov, 1)) {
    report_closed_and_close(slot);
    return;
  }
  timers_.arm(slot, config_.heartbeat_ms);
}

}  // namespace megacomet
