// Response heads from prebuilt templates, gathered for one writev.
//
// A response is at most six pieces: status line, kind block (Content-Type,
// Cache-Control, CORS), a short formatted tail (Content-Length, Connection),
// the caller's extra header lines, the blank line, the body. Only the tail is
// formatted per response; everything else is bytes built once per engine.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "http_errors.h"

namespace megacomet {

// Matches ResponseKind in src/engine/binding.ts.
enum class ResponseKind : std::uint8_t {
  kJson = 0,   // application/json; charset=utf-8
  kJsonp = 1,  // application/javascript; charset=utf-8 + X-Content-Type-Options: nosniff
  kText = 2,   // text/plain; charset=utf-8
  kNone = 3,   // no Content-Type (204 answers)
};
inline constexpr std::uint8_t kResponseKindCount = 4;

inline constexpr std::uint16_t kMinStatus = 100;
inline constexpr std::uint16_t kMaxStatus = 599;

// What the Connection header says.
enum class ConnectionHeader : std::uint8_t {
  kNone,       // HTTP/1.1 keep-alive: the default needs no header
  kKeepAlive,  // HTTP/1.0 keep-alive must be said
  kClose,
};

struct ResponseSpec {
  std::uint16_t status;  // kMinStatus..kMaxStatus
  ResponseKind kind;
  const char* body;  // may be null when body_len is 0
  std::size_t body_len;
  const char* extra_headers;  // complete header lines, each ending in \r\n; may be null
  std::size_t extra_len;
  bool omit_body;  // HEAD request: Content-Length says body_len, no body bytes follow
  ConnectionHeader connection;
};

// Room for the formatted tail: "Content-Length: <20 digits>\r\nConnection: keep-alive\r\n".
inline constexpr std::size_t kResponseTailBytes = 80;
inline constexpr int kResponseMaxIov = 6;

class ResponseTemplates {
 public:
  // `cors_origin` is the Access-Control-Allow-Origin value (checked by the caller
  // with is_header_text(), header_text.h).
  explicit ResponseTemplates(std::string_view cors_origin);

  // Gathers `spec` into iov[0..return) using `tail` (kResponseTailBytes, owned by
  // the caller, alive until the bytes are written or copied). *total gets the byte
  // count. Statuses 1xx, 204 and 304 carry neither Content-Length nor a body.
  int gather(const ResponseSpec& spec, char* tail, iovec* iov, std::size_t* total) const;

  // The head of an event stream (event_stream.cc): 200, Content-Type:
  // text/event-stream, Cache-Control: no-store, CORS, X-Accel-Buffering: no
  // (proxies must not buffer it), Connection: close and no Content-Length: the
  // body runs until the connection closes.
  std::string_view stream_head() const { return stream_head_; }

  // A complete prebuilt error response (ends with Connection: close).
  std::string_view error(HttpError e) const { return errors_[static_cast<std::size_t>(e)]; }

  std::string_view status_line(std::uint16_t status) const;
  std::string_view kind_block(ResponseKind kind) const {
    return kinds_[static_cast<std::size_t>(kind)];
  }

 private:
  // Every status line "HTTP/1.1 NNN Reason\r\n" for kMinStatus..kMaxStatus, back
  // to back, with each one's end offset.
  std::string status_lines_;
  std::uint32_t status_end_[kMaxStatus - kMinStatus + 1];
  std::string kinds_[kResponseKindCount];
  std::string errors_[kHttpErrorCount];
  std::string stream_head_;
};

// The reason phrase of a status ("" when it has no registered one).
const char* reason_phrase(std::uint16_t status);

}  // namespace megacomet
