// Parsing an HTTP/1.1 response head: a pure function over bytes (no sockets, no allocation).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace loadgen {

struct ResponseHead {
  int status = 0;
  // Bytes of the head, status line through the blank line.
  size_t head_length = 0;
  // Body bytes that follow the head.
  uint64_t content_length = 0;
  // The server said "Connection: close": the connection ends after this response.
  bool close = false;
  // Nchan's long-poll cursor: the values of Last-Modified and Etag (views into the parsed bytes,
  // empty when absent). The next poll sends them back as If-Modified-Since / If-None-Match.
  std::string_view last_modified;
  std::string_view etag;
};

enum class HeadParse { complete, partial, error };

// Parses the response head at the start of `bytes` into `out`.
// complete: `out` is filled; the body starts at bytes[out.head_length].
// partial: the head is not complete yet (no blank line so far, and under 16 KiB).
// error: not an HTTP/1.x response, a head over 16 KiB, no Content-Length (PROTOCOL.md sets it
// on every response, and so does Nchan, 304 aside) or chunked transfer coding (which it
// therefore never needs). A 304 or 204 has no body whatever its head says.
HeadParse parse_response_head(std::string_view bytes, ResponseHead& out);

}  // namespace loadgen
