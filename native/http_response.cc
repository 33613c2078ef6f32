#include "http_response.h"

#include <cstring>

namespace megacomet {

const char* reason_phrase(std::uint16_t status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 203: return "Non-Authoritative Information";
    case 204: return "No Content";
    case 205: return "Reset Content";
    case 206: return "Partial Content";
    case 300: return "Multiple Choices";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 303: return "See Other";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 402: return "Payment Required";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 411: return "Length Required";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 417: return "Expectation Failed";
    case 421: return "Misdirected Request";
    case 422: return "Unprocessable Content";
    case 425: return "Too Early";
    case 426: return "Upgrade Required";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 451: return "Unavailable For Legal Reasons";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "";
  }
}

namespace {

std::string kind_block_for(ResponseKind kind, std::string_view cors_origin) {
  std::string s;
  switch (kind) {
    case ResponseKind::kJson:
      s += "Content-Type: application/json; charset=utf-8\r\n";
      break;
    case ResponseKind::kJsonp:
      s += "Content-Type: application/javascript; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n";
      break;
    case ResponseKind::kText:
      s += "Content-Type: text/plain; charset=utf-8\r\n";
      break;
    case ResponseKind::kNone:
      break;
  }
  s += "Cache-Control: no-store\r\nAccess-Control-Allow-Origin: ";
  s += cors_origin;
  s += "\r\n";
  return s;
}

// Writes the decimal digits of v at p; returns the end.
char* put_decimal(char* p, std::uint64_t v) {
  char digits[20];
  int n = 0;
  do {
    digits[n++] = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  while (n > 0) *p++ = digits[--n];
  return p;
}

char* put(char* p, std::string_view s) {
  std::memcpy(p, s.data(), s.size());
  return p + s.size();
}

bool status_has_body(std::uint16_t status) {
  return status >= 200 && status != 204 && status != 304;
}

}  // namespace

ResponseTemplates::ResponseTemplates(std::string_view cors_origin) {
  for (std::uint16_t s = kMinStatus; s <= kMaxStatus; ++s) {
    char num[4] = {static_cast<char>('0' + s / 100), static_cast<char>('0' + s / 10 % 10),
                   static_cast<char>('0' + s % 10), 0};
    status_lines_ += "HTTP/1.1 ";
    status_lines_ += num;
    status_lines_ += ' ';
    status_lines_ += reason_phrase(s);
    status_lines_ += "\r\n";
    status_end_[s - kMinStatus] = static_cast<std::uint32_t>(status_lines_.size());
  }
  for (std::uint8_t k = 0; k < kResponseKindCount; ++k) {
    kinds_[k] = kind_block_for(static_cast<ResponseKind>(k), cors_origin);
  }
  stream_head_ = std::string(status_line(200)) + "Content-Type: text/event-stream\r\nCache-Control: no-store\r\n" +
                 "Access-Control-Allow-Origin: " + std::string(cors_origin) +
                 "\r\nX-Accel-Buffering: no\r\nConnection: close\r\n\r\n";
  for (std::size_t e = 0; e < kHttpErrorCount; ++e) {
    const HttpErrorInfo& info = kHttpErrors[e];
    std::string body = std::string("{\"error\":\"") + info.code + "\",\"message\":\"" + info.message + "\"}";
    std::string& r = errors_[e];
    r += status_line(info.status);
    r += kinds_[static_cast<std::size_t>(ResponseKind::kJson)];
    r += "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    r += body;
  }
}

std::string_view ResponseTemplates::status_line(std::uint16_t status) const {
  std::size_t i = status - kMinStatus;
  std::size_t begin = i == 0 ? 0 : status_end_[i - 1];
  return std::string_view(status_lines_).substr(begin, status_end_[i] - begin);
}

int ResponseTemplates::gather(const ResponseSpec& spec, char* tail, iovec* iov,
                              std::size_t* total) const {
  bool has_body = status_has_body(spec.status);
  char* p = tail;
  if (has_body) {
    p = put(p, "Content-Length: ");
    p = put_decimal(p, spec.body_len);
    p = put(p, "\r\n");
  }
  if (spec.connection == ConnectionHeader::kClose) {
    p = put(p, "Connection: close\r\n");
  } else if (spec.connection == ConnectionHeader::kKeepAlive) {
    p = put(p, "Connection: keep-alive\r\n");
  }
  std::string_view status = status_line(spec.status);
  std::string_view kind = kind_block(spec.kind);
  int n = 0;
  auto add = [&](const char* data, std::size_t len) {
    if (len == 0) return;
    iov[n].iov_base = const_cast<char*>(data);
    iov[n].iov_len = len;
    ++n;
  };
  add(status.data(), status.size());
  add(kind.data(), kind.size());
  if (spec.extra_len == 0) {
    // The blank line rides on the tail: one iovec fewer.
    p = put(p, "\r\n");
    add(tail, static_cast<std::size_t>(p - tail));
  } else {
    add(tail, static_cast<std::size_t>(p - tail));
    add(spec.extra_headers, spec.extra_len);
    add("\r\n", 2);
  }
  if (has_body && !spec.omit_body) add(spec.body, spec.body_len);
  std::size_t sum = 0;
  for (int i = 0; i < n; ++i) sum += iov[i].iov_len;
  *total = sum;
  return n;
}

}  // namespace megacomet
