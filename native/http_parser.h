// HTTP/1.1 request-head parser: a pure function over bytes.
//
// No allocation, no sockets, no napi.h: it reads the caller's buffer and fills a
// caller-owned struct with string_views INTO that buffer. That is what lets the
// same code run in the engine, in the table-driven tests and under libFuzzer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace megacomet {

// Largest request head we accept (request line + headers + blank line).
// Anything longer is answered 431 by the engine.
inline constexpr std::size_t kMaxHeadBytes = 8192;
// Headers kept in HttpRequest::headers; later ones are parsed, checked and
// applied but not kept (the engine needs none of them by position).
inline constexpr std::size_t kMaxHeaders = 64;

enum class Method : std::uint8_t {
  kUnknown = 0,  // never returned for a parsed request: see kOther
  kGet = 1,
  kHead = 2,
  kOptions = 3,
  kPost = 4,
  kPut = 5,
  kDelete = 6,
  kOther = 7,  // a syntactically valid token that is none of the above (PATCH, FOO...)
};

struct HttpHeader {
  std::string_view name;   // as sent (case preserved); compare case-insensitively
  std::string_view value;  // leading/trailing spaces and tabs trimmed
};

struct HttpRequest {
  Method method = Method::kUnknown;
  std::string_view method_text;  // the method token as sent
  // The request-target in origin-form, e.g. "/poll?client=a" (or "*" for
  // OPTIONS): an absolute-form target "http://host/poll?client=a" is given as
  // the origin-form part after its authority, "/poll?client=a". A view into
  // the parsed bytes, except for an absolute-form target with an empty path:
  // then a static "/" when there is no query, or a view into target_storage
  // ("/" and the query) when there is one.
  std::string_view target;
  std::uint8_t version_minor = 1;  // HTTP/1.<minor>; only 0 and 1 are accepted
  bool keep_alive = true;          // after applying the version default and Connection
  std::uint64_t content_length = 0;  // 0 when absent
  bool has_transfer_encoding = false;
  std::string_view access_control_request_headers;  // empty when absent; the first one if repeated
  std::string_view last_event_id;  // Last-Event-ID (Server-Sent Events resume); empty when absent; the first one if repeated
  std::size_t header_count = 0;  // headers[0..header_count) are the first ones sent, at most kMaxHeaders
  HttpHeader headers[kMaxHeaders];
  // Holds "/?query" for "http://host?query", the one origin-form that is not a
  // run of the parsed bytes; target may point here, so a copy of the struct
  // must not be used for its target. Left uninitialised until needed.
  char target_storage[kMaxHeadBytes];
};

enum class ParseStatus : std::int8_t {
  kComplete = 0,   // a whole head was parsed; *consumed is its length (through the blank line)
  kPartial = -2,   // need more bytes; nothing in *out is meaningful; no byte is "consumed"
  kError = -1,     // malformed: answer 400 and close
  kTooLarge = -3,  // no complete head within kMaxHeadBytes: answer 431 and close
};

// Parses one request head at the start of [data, data+len).
// Returns kComplete and sets *consumed (> 0, <= kMaxHeadBytes) when a full head
// is present; the string_views in *out then point into `data` (target may
// instead point to a static "/" or into out->target_storage, see
// HttpRequest::target), which the caller must keep alive and unchanged while it
// uses them. Bytes after the head (a body, a pipelined request) are not looked
// at. Returns kPartial when more bytes are needed (and len < kMaxHeadBytes),
// kTooLarge when len >= kMaxHeadBytes without a complete head (or the complete
// head is longer than kMaxHeadBytes), kError on any syntax error, even before
// the head is complete (so a garbage stream is refused at its first bad byte).
// Only the first kMaxHeadBytes bytes are ever read. On anything but kComplete,
// *consumed is 0.
// Every call resets *out first; it never allocates and never throws.
// Empty lines before the request line (a stray CRLF after a previous body) are
// skipped (RFC 9112 2.2) and count toward *consumed and the size limit; only
// CRLF ones.
// The request-target must be origin-form ("/" first), "*" with OPTIONS only,
// or absolute-form with the scheme http:// or https:// (case-insensitive) and
// a non-empty authority (RFC 9112 3.2, RFC 9110 4.2.1); the authority is not
// checked against anything else and is dropped, and an empty path becomes "/"
// (see HttpRequest::target). Any other target (authority-form, "health",
// "ftp://h/x", "*" with GET) is kError, as soon as its bytes so far can start
// no accepted form.
// Line ends are CRLF only: a bare LF anywhere in the head is kError (a proxy
// that reads bare LF differently could otherwise smuggle a request past us).
// Also rejects a bare CR, obsolete line folding, more than one SP between
// request-line parts, NUL and other control bytes in the request line and
// header values, bytes >= 0x80 in the method (allowed in the target and in
// values), header names that are not tokens (so also whitespace before the
// colon), a Content-Length that is not 1*DIGIT, overflows uint64 or differs
// from another Content-Length, and versions other than HTTP/1.0 and HTTP/1.1.
// Host is not required.
ParseStatus parse_request_head(const char* data, std::size_t len, HttpRequest* out,
                               std::size_t* consumed);

}  // namespace megacomet
