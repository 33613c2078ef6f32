#include "http_response.h"

#include <cstring>

namespace loadgen {

namespace {

constexpr size_t kMaxHead = 16384;

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool equals_ignore_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); i++) {
    if (lower(a[i]) != lower(b[i])) return false;
  }
  return true;
}

bool contains_ignore_case(std::string_view haystack, std::string_view needle) {
  if (needle.size() > haystack.size()) return false;
  for (size_t i = 0; i + needle.size() <= haystack.size(); i++) {
    if (equals_ignore_case(haystack.substr(i, needle.size()), needle)) return true;
  }
  return false;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool parse_decimal(std::string_view s, uint64_t& out) {
  if (s.empty() || s.size() > 15) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  out = v;
  return true;
}

}  // namespace

HeadParse parse_response_head(std::string_view bytes, ResponseHead& out) {
  const size_t limit = bytes.size() < kMaxHead ? bytes.size() : kMaxHead;
  const void* found = memmem(bytes.data(), limit, "\r\n\r\n", 4);
  if (found == nullptr) return bytes.size() >= kMaxHead ? HeadParse::error : HeadParse::partial;
  out = ResponseHead{};
  out.head_length = static_cast<size_t>(static_cast<const char*>(found) - bytes.data()) + 4;
  std::string_view head = bytes.substr(0, out.head_length - 2);  // keeps the last line's CRLF

  // Status line: "HTTP/1.x NNN reason".
  const size_t line_end = head.find("\r\n");
  const std::string_view status_line = head.substr(0, line_end);
  if (status_line.size() < 12 || status_line.substr(0, 7) != "HTTP/1." || status_line[8] != ' ') {
    return HeadParse::error;
  }
  uint64_t status = 0;
  if (!parse_decimal(status_line.substr(9, 3), status) || status < 100) return HeadParse::error;
  out.status = static_cast<int>(status);
  const bool http10 = status_line[7] == '0';
  out.close = http10;

  bool have_length = false;
  head.remove_prefix(line_end + 2);
  while (!head.empty()) {
    const size_t end = head.find("\r\n");
    const std::string_view line = head.substr(0, end);
    head.remove_prefix(end + 2);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return HeadParse::error;
    const std::string_view name = line.substr(0, colon);
    const std::string_view value = trim(line.substr(colon + 1));
    if (equals_ignore_case(name, "content-length")) {
      if (!parse_decimal(value, out.content_length)) return HeadParse::error;
      have_length = true;
    } else if (equals_ignore_case(name, "connection")) {
      if (contains_ignore_case(value, "close")) out.close = true;
      if (contains_ignore_case(value, "keep-alive")) out.close = false;
    } else if (equals_ignore_case(name, "transfer-encoding")) {
      return HeadParse::error;
    } else if (equals_ignore_case(name, "last-modified")) {
      out.last_modified = value;
    } else if (equals_ignore_case(name, "etag")) {
      out.etag = value;
    }
  }
  // RFC 9110: 204 and 304 never carry a body, so they need no length.
  if (out.status == 204 || out.status == 304) {
    out.content_length = 0;
    return HeadParse::complete;
  }
  return have_length ? HeadParse::complete : HeadParse::error;
}

}  // namespace loadgen
