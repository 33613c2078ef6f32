// The responses the engine sends on its own, without asking JavaScript: errors
// on the HTTP path are data. Each one is a complete response (status line, head
// with Connection: close, JSON body) built once per engine by ResponseTemplates,
// because the Access-Control-Allow-Origin value is an engine option.
#pragma once

#include <cstddef>
#include <cstdint>

namespace megacomet {

enum class HttpError : std::uint8_t {
  kBadRequest = 0,        // 400: the parser refused the head
  kPayloadTooLarge,       // 413: Content-Length over kMaxBodyBytes
  kHeadersTooLarge,       // 431: no complete head within kMaxHeadBytes
  kNotImplemented,        // 501: Transfer-Encoding in a request
  kServiceUnavailable,    // 503: over maxConnections or out of file descriptors
};
inline constexpr std::size_t kHttpErrorCount = 5;

struct HttpErrorInfo {
  std::uint16_t status;
  const char* code;     // the "error" member of the JSON body: stable, for programs
  const char* message;  // the "message" member: for people; must not need JSON escaping
};

// Indexed by HttpError.
inline constexpr HttpErrorInfo kHttpErrors[kHttpErrorCount] = {
    {400, "bad_request", "The request is not valid HTTP/1.1; check the request line and headers."},
    {413, "payload_too_large", "Request bodies are limited to 65536 bytes."},
    {431, "headers_too_large", "The request head (request line and headers) is over 8192 bytes."},
    {501, "not_implemented",
     "Transfer-Encoding in requests is not supported; send a Content-Length body or none."},
    {503, "service_unavailable", "The server is at its connection limit; retry later."},
};

// Request bodies (Content-Length) up to this size are read and dropped; larger
// ones get 413. Our endpoints take no body, so this only has to be polite.
inline constexpr std::uint64_t kMaxBodyBytes = 65536;

}  // namespace megacomet
