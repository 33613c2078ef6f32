// HTTP/1.1 request-head parser (RFC 9112 section 2-5, RFC 9110 section 5).
//
// One forward scan with a cursor; every byte is classified by a 256-entry
// table. The scan never looks past min(len, kMaxHeadBytes), so a head that
// does not fit is refused after at most 8 KiB of work, and each syntax rule is
// checked on the byte that breaks it, so garbage is refused as soon as it
// arrives instead of after the buffer fills.
//
// The two long runs, the request-target and header values, are first skipped
// eight bytes at a time (SWAR: a word test finds any byte that ends the run),
// then finished byte by byte. Road not taken: SSE4.2 range scans
// (picohttpparser) go faster still on long values, but need a CPU check and a
// second code path, and a poll head is ~150 bytes.
#include "http_parser.h"

#include <array>
#include <cstring>
#include <limits>

namespace megacomet {
namespace {

using Byte = unsigned char;

enum ByteClass : std::uint8_t {
  kTokenByte = 1 << 0,   // tchar (RFC 9110 5.6.2): method and header names
  kTargetByte = 1 << 1,  // visible ASCII or obs-text: the request-target
  kValueByte = 1 << 2,   // field-vchar, SP or HTAB: header values
};

constexpr std::array<std::uint8_t, 256> make_byte_classes() {
  std::array<std::uint8_t, 256> classes{};
  for (int c = 0; c < 256; ++c) {
    std::uint8_t bits = 0;
    const bool visible = c >= 0x21 && c <= 0x7E;
    const bool obs_text = c >= 0x80;
    if (visible || obs_text) bits |= kTargetByte | kValueByte;
    if (c == ' ' || c == '\t') bits |= kValueByte;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
    constexpr std::string_view kTokenSymbols = "!#$%&'*+-.^_`|~";
    if (alnum || kTokenSymbols.find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kTokenByte;
    }
    classes[static_cast<std::size_t>(c)] = bits;
  }
  return classes;
}

constexpr std::array<std::uint8_t, 256> kByteClasses = make_byte_classes();

inline bool has_class(Byte c, ByteClass cls) { return (kByteClasses[c] & cls) != 0; }
inline bool is_ows(Byte c) { return c == ' ' || c == '\t'; }
inline Byte ascii_lower(Byte c) { return (c >= 'A' && c <= 'Z') ? static_cast<Byte>(c + 32) : c; }

// `lower` must be lowercase ASCII.
bool equals_ignoring_case(std::string_view text, std::string_view lower) {
  if (text.size() != lower.size()) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (ascii_lower(static_cast<Byte>(text[i])) != static_cast<Byte>(lower[i])) return false;
  }
  return true;
}

constexpr std::uint64_t kEachByte = 0x0101010101010101ULL;
constexpr std::uint64_t kHighBits = 0x8080808080808080ULL;

// True when some byte of `word` is below `n` (exact for n <= 128: the
// subtraction borrows into a byte's high bit only when that byte is < n, and
// ~word drops bytes that had the high bit set already).
constexpr bool any_byte_below(std::uint64_t word, std::uint8_t n) {
  return ((word - kEachByte * n) & ~word & kHighBits) != 0;
}
constexpr bool any_byte_is(std::uint64_t word, std::uint8_t c) {
  return any_byte_below(word ^ (kEachByte * c), 1);
}

// Skips whole 8-byte words whose bytes are all >= kLowest and not DEL: target
// bytes (kLowest 0x21: 0x21-0x7E and 0x80-0xFF) or value bytes (kLowest 0x20,
// SP allowed). Stops at the first word holding anything else, which the byte
// loop then finds; a tab in a value stops the word scan too (tabs are rare).
template <std::uint8_t kLowest>
inline const Byte* skip_words(const Byte* p, const Byte* end) {
  while (end - p >= 8) {
    std::uint64_t word;
    std::memcpy(&word, p, sizeof word);
    if (any_byte_below(word, kLowest) || any_byte_is(word, 0x7F)) break;
    p += 8;
  }
  return p;
}

std::string_view view(const Byte* from, const Byte* to) {
  return {reinterpret_cast<const char*>(from), static_cast<std::size_t>(to - from)};
}

Method method_from_token(std::string_view token) {
  switch (token.size()) {
    case 3:
      if (token == "GET") return Method::kGet;
      if (token == "PUT") return Method::kPut;
      break;
    case 4:
      if (token == "HEAD") return Method::kHead;
      if (token == "POST") return Method::kPost;
      break;
    case 6:
      if (token == "DELETE") return Method::kDelete;
      break;
    case 7:
      if (token == "OPTIONS") return Method::kOptions;
      break;
    default:
      break;
  }
  return Method::kOther;
}

// Content-Length is 1*DIGIT (RFC 9110 8.6). The list form "5, 5" that the RFC
// lets a recipient accept is refused: no real client sends it, and refusing
// it leaves no doubt about the framing of what follows.
bool parse_content_length(std::string_view value, std::uint64_t* result) {
  if (value.empty()) return false;
  constexpr std::uint64_t kMax = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t n = 0;
  for (const char ch : value) {
    if (ch < '0' || ch > '9') return false;
    const auto digit = static_cast<std::uint64_t>(ch - '0');
    if (n > (kMax - digit) / 10) return false;
    n = n * 10 + digit;
  }
  *result = n;
  return true;
}

struct ConnectionOptions {
  bool close = false;
  bool keep_alive = false;
};

// Connection is a comma-separated list of case-insensitive tokens (RFC 9110
// 7.6.1); only "close" and "keep-alive" matter here, other options are ignored.
void read_connection_options(std::string_view value, ConnectionOptions* options) {
  while (!value.empty()) {
    const std::size_t comma = value.find(',');
    std::string_view item = value.substr(0, comma);
    value = comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    while (!item.empty() && is_ows(static_cast<Byte>(item.front()))) item.remove_prefix(1);
    while (!item.empty() && is_ows(static_cast<Byte>(item.back()))) item.remove_suffix(1);
    if (equals_ignoring_case(item, "close")) options->close = true;
    if (equals_ignoring_case(item, "keep-alive")) options->keep_alive = true;
  }
}

// Everything that depends on a header's meaning rather than its syntax.
// Returns false when the header makes the request malformed.
bool apply_header(const HttpHeader& header, HttpRequest* out, bool* seen_content_length,
                  ConnectionOptions* connection) {
  switch (header.name.size()) {
    case 10:
      if (equals_ignoring_case(header.name, "connection")) {
        read_connection_options(header.value, connection);
      }
      break;
    case 13:
      // An EventSource reconnecting sends the last event id it saw; the first one wins, as below.
      if (out->last_event_id.empty() && equals_ignoring_case(header.name, "last-event-id")) {
        out->last_event_id = header.value;
      }
      break;
    case 14:
      if (equals_ignoring_case(header.name, "content-length")) {
        std::uint64_t length = 0;
        if (!parse_content_length(header.value, &length)) return false;
        // Two different lengths is the classic request-smuggling shape (RFC 9112 6.3).
        if (*seen_content_length && length != out->content_length) return false;
        *seen_content_length = true;
        out->content_length = length;
      }
      break;
    case 17:
      if (equals_ignoring_case(header.name, "transfer-encoding")) out->has_transfer_encoding = true;
      break;
    case 30:
      // The first one wins: joining repeats would need a buffer, and browsers send one.
      if (out->access_control_request_headers.empty() &&
          equals_ignoring_case(header.name, "access-control-request-headers")) {
        out->access_control_request_headers = header.value;
      }
      break;
    default:
      break;
  }
  return true;
}

// The absolute-form schemes accepted (RFC 9112 3.2.2), matched case-insensitively.
constexpr std::string_view kSchemes[] = {"http://", "https://"};

// True when `prefix`, the request-target bytes received so far, can still
// grow into a target that set_origin_form accepts. Once it is false it stays
// false for every longer prefix, so refusing early never refuses a good head.
bool target_can_start(std::string_view prefix, Method method) {
  if (prefix.empty() || prefix.front() == '/') return true;
  if (prefix.front() == '*') return prefix.size() == 1 && method == Method::kOptions;
  for (const std::string_view scheme : kSchemes) {
    const std::size_t n = prefix.size() < scheme.size() ? prefix.size() : scheme.size();
    if (equals_ignoring_case(prefix.substr(0, n), scheme.substr(0, n))) return true;
  }
  return false;
}

// Sets out->target to the origin-form of a complete, non-empty request-target:
// origin-form as it is, "*" for OPTIONS, and for absolute-form the path and
// query after the authority ("/" when the path is empty). Returns false for
// any other target: authority-form, another scheme, a relative path, an empty
// authority (RFC 9110 4.2.1).
bool set_origin_form(std::string_view target, HttpRequest* out) {
  if (target.front() == '/') {
    out->target = target;
    return true;
  }
  if (target == "*") {
    out->target = target;
    return out->method == Method::kOptions;
  }
  for (const std::string_view scheme : kSchemes) {
    if (target.size() <= scheme.size() ||
        !equals_ignoring_case(target.substr(0, scheme.size()), scheme)) {
      continue;
    }
    const std::string_view rest = target.substr(scheme.size());
    const std::size_t authority_end = rest.find_first_of("/?");
    if (authority_end == 0) return false;
    if (authority_end == std::string_view::npos) {
      out->target = "/";
    } else if (rest[authority_end] == '/') {
      out->target = rest.substr(authority_end);
    } else {
      // "http://host?q": the origin-form "/?q" is not a run of the input.
      // It is shorter than the target, so it fits in kMaxHeadBytes.
      const std::string_view query = rest.substr(authority_end);
      out->target_storage[0] = '/';
      std::memcpy(out->target_storage + 1, query.data(), query.size());
      out->target = {out->target_storage, query.size() + 1};
    }
    return true;
  }
  return false;
}

// Outcome of consuming a line end at the cursor.
enum class LineEnd { kFound, kNeedMore, kBad };

// Accepts CRLF only. RFC 9112 2.2 lets a recipient accept a bare LF, but a
// proxy in front that does not would see other request boundaries than we do
// (request smuggling), so a bare LF, like a CR followed by anything but LF, is
// malformed.
inline LineEnd consume_line_end(const Byte*& p, const Byte* end) {
  if (*p != '\r') return LineEnd::kBad;
  if (p + 1 == end) return LineEnd::kNeedMore;
  if (p[1] != '\n') return LineEnd::kBad;
  p += 2;
  return LineEnd::kFound;
}

}  // namespace

ParseStatus parse_request_head(const char* data, std::size_t len, HttpRequest* out,
                               std::size_t* consumed) {
  *consumed = 0;
  out->method = Method::kUnknown;
  out->method_text = {};
  out->target = {};
  out->version_minor = 1;
  out->keep_alive = true;
  out->content_length = 0;
  out->has_transfer_encoding = false;
  out->access_control_request_headers = {};
  out->last_event_id = {};
  out->header_count = 0;

  // The scan window: a head must end within kMaxHeadBytes, so running out of
  // window means "too large" once the window is full, "partial" before that.
  const bool window_full = len >= kMaxHeadBytes;
  const auto* const begin = reinterpret_cast<const Byte*>(data);
  const Byte* const end = begin + (window_full ? kMaxHeadBytes : len);
  const ParseStatus out_of_bytes = window_full ? ParseStatus::kTooLarge : ParseStatus::kPartial;
  const Byte* p = begin;

  // Empty lines before the request line (a stray CRLF after a previous
  // request's body) are skipped, RFC 9112 2.2; a bare LF is refused there too.
  for (;;) {
    if (p == end) return out_of_bytes;
    if (*p != '\r' && *p != '\n') break;
    const LineEnd line_end = consume_line_end(p, end);
    if (line_end == LineEnd::kNeedMore) return out_of_bytes;
    if (line_end == LineEnd::kBad) return ParseStatus::kError;
  }

  // request-line = method SP request-target SP HTTP-version, exactly one SP
  // each: lenient whitespace is how request smuggling starts.
  const Byte* const method_start = p;
  while (p != end && has_class(*p, kTokenByte)) ++p;
  if (p == end) return out_of_bytes;
  if (p == method_start || *p != ' ') return ParseStatus::kError;
  out->method_text = view(method_start, p);
  out->method = method_from_token(out->method_text);
  ++p;

  // The target's form is judged from its bytes so far when they run out, so
  // "GET health" streamed byte by byte is refused at its "e".
  const Byte* const target_start = p;
  p = skip_words<0x21>(p, end);
  while (p != end && has_class(*p, kTargetByte)) ++p;
  if (p == end) {
    return target_can_start(view(target_start, p), out->method) ? out_of_bytes
                                                                : ParseStatus::kError;
  }
  if (p == target_start || *p != ' ') return ParseStatus::kError;
  if (!set_origin_form(view(target_start, p), out)) return ParseStatus::kError;
  ++p;

  // HTTP-version is case-sensitive; only 1.0 and 1.1 are spoken here.
  // Compared byte by byte so "HTTP/2" is refused before its line ends.
  constexpr std::string_view kVersionPrefix = "HTTP/1.";
  for (const char expected : kVersionPrefix) {
    if (p == end) return out_of_bytes;
    if (*p != static_cast<Byte>(expected)) return ParseStatus::kError;
    ++p;
  }
  if (p == end) return out_of_bytes;
  if (*p != '0' && *p != '1') return ParseStatus::kError;
  out->version_minor = static_cast<std::uint8_t>(*p - '0');
  ++p;
  if (p == end) return out_of_bytes;
  switch (consume_line_end(p, end)) {
    case LineEnd::kFound:
      break;
    case LineEnd::kNeedMore:
      return out_of_bytes;
    case LineEnd::kBad:
      return ParseStatus::kError;
  }

  bool seen_content_length = false;
  ConnectionOptions connection;
  for (;;) {
    if (p == end) return out_of_bytes;
    if (*p == '\r' || *p == '\n') {
      const LineEnd line_end = consume_line_end(p, end);
      if (line_end == LineEnd::kNeedMore) return out_of_bytes;
      if (line_end == LineEnd::kBad) return ParseStatus::kError;
      break;  // the blank line: the head is complete
    }
    // A line starting with whitespace is obs-fold (RFC 9112 5.2), refused.
    // Anything else that is not a token byte fails the name check below.
    if (is_ows(*p)) return ParseStatus::kError;

    // field-line = field-name ":" OWS field-value OWS; no whitespace before
    // the colon (RFC 9112 5.1).
    const Byte* const name_start = p;
    while (p != end && has_class(*p, kTokenByte)) ++p;
    if (p == end) return out_of_bytes;
    if (p == name_start || *p != ':') return ParseStatus::kError;
    const Byte* const name_end = p;
    ++p;
    while (p != end && is_ows(*p)) ++p;
    const Byte* const value_start = p;
    p = skip_words<0x20>(p, end);
    while (p != end && has_class(*p, kValueByte)) ++p;
    if (p == end) return out_of_bytes;
    const Byte* value_end = p;
    switch (consume_line_end(p, end)) {
      case LineEnd::kFound:
        break;
      case LineEnd::kNeedMore:
        return out_of_bytes;
      case LineEnd::kBad:
        return ParseStatus::kError;  // NUL, DEL or another control byte in the value
    }
    while (value_end != value_start && is_ows(value_end[-1])) --value_end;

    // Headers past kMaxHeaders are still checked and applied (Connection,
    // Content-Length...) but not kept: a valid head is never refused for its
    // header count, only for its size (431).
    HttpHeader unkept;
    HttpHeader& header = out->header_count < kMaxHeaders ? out->headers[out->header_count++] : unkept;
    header.name = view(name_start, name_end);
    header.value = view(value_start, value_end);
    if (!apply_header(header, out, &seen_content_length, &connection)) {
      return ParseStatus::kError;
    }
  }

  // HTTP/1.1 is persistent unless told otherwise; HTTP/1.0 only when asked
  // (RFC 9112 9.3). "close" wins over "keep-alive" when a client sends both.
  out->keep_alive = !connection.close && (out->version_minor == 1 || connection.keep_alive);
  *consumed = static_cast<std::size_t>(p - begin);
  return ParseStatus::kComplete;
}

}  // namespace megacomet
