// libFuzzer target for parse_request_head.
//
// Calling the parser only finds crashes; this target also checks, on every
// input, what must hold whatever the bytes are:
//   - consumed <= len, and 0 unless complete; kComplete means
//     0 < consumed <= kMaxHeadBytes, and every string_view lies in the head;
//   - streaming is consistent: over growing prefixes of the input the status
//     stays kPartial until it settles on one final answer (the same consumed
//     for kComplete) that never changes again, and only a prefix of at least
//     kMaxHeadBytes bytes is kTooLarge;
//   - the answer agrees with a slow line-by-line reference parser written
//     independently below (string splitting instead of a byte scan).
// Each prefix is copied into its own heap block of exactly its size, so
// AddressSanitizer catches a read past the end of any of them.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "../http_parser.h"

namespace {

using megacomet::HttpRequest;
using megacomet::kMaxHeaders;
using megacomet::kMaxHeadBytes;
using megacomet::Method;
using megacomet::ParseStatus;

[[noreturn]] void broken(const char* what, std::size_t line, std::size_t size) {
  std::fprintf(stderr, "http_parser_fuzz: invariant broken at line %zu: %s (input of %zu bytes)\n",
               line, what, size);
  std::abort();
}

#define CHECK(cond)                                    \
  do {                                                 \
    if (!(cond)) broken(#cond, __LINE__, input_size); \
  } while (0)

// ---- The reference parser ----------------------------------------------------

bool ref_is_tchar(unsigned char c) {
  if (c == 0 || c >= 0x80) return false;
  return std::isalnum(c) != 0 || std::strchr("!#$%&'*+-.^_`|~", c) != nullptr;
}

bool ref_is_token(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return ref_is_tchar(static_cast<unsigned char>(c));
  });
}

bool ref_is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view ref_trim(std::string_view s) {
  while (!s.empty() && ref_is_ows(s.front())) s.remove_prefix(1);
  while (!s.empty() && ref_is_ows(s.back())) s.remove_suffix(1);
  return s;
}

bool ref_iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto x = static_cast<unsigned char>(a[i]);
    const auto y = static_cast<unsigned char>(b[i]);
    if (x >= 0x80 || y >= 0x80 ? x != y : std::tolower(x) != std::tolower(y)) return false;
  }
  return true;
}

enum class RefOutcome { kValid, kInvalid, kIncomplete };

struct RefHeader {
  std::string_view name, value;
};

struct RefRequest {
  std::size_t head_length = 0;
  std::string_view method;
  std::string target;  // the origin-form the request is routed by
  int minor = -1;
  bool keep_alive = false;
  std::uint64_t content_length = 0;
  bool transfer_encoding = false;
  std::string_view acrh;
  std::string_view last_event_id;
  std::vector<RefHeader> headers;
};

// The origin-form of a request-target (RFC 9112 3.2): "/..." as it is, "*"
// for OPTIONS only, "http://" or "https://" (any case) + a non-empty authority
// + an optional "/..." path and "?..." query, the path defaulting to "/".
// Anything else is refused.
bool ref_origin_form(std::string_view method, std::string_view target, std::string* origin) {
  if (target.substr(0, 1) == "/") {
    origin->assign(target);
    return true;
  }
  if (target == "*") {
    origin->assign(target);
    return method == "OPTIONS";
  }
  std::string lower(target.substr(0, 8));
  for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string_view rest;
  if (lower.rfind("http://", 0) == 0) {
    rest = target.substr(7);
  } else if (lower.rfind("https://", 0) == 0) {
    rest = target.substr(8);
  } else {
    return false;
  }
  std::size_t cut = rest.size();
  for (std::size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '/' || rest[i] == '?') {
      cut = i;
      break;
    }
  }
  if (cut == 0) return false;  // no authority
  const std::string_view after = rest.substr(cut);
  origin->assign(after.substr(0, 1) == "/" ? "" : "/");
  origin->append(after);
  return true;
}

bool ref_request_line(std::string_view line, RefRequest* r) {
  if (std::count(line.begin(), line.end(), ' ') != 2) return false;
  const std::size_t sp1 = line.find(' ');
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  r->method = line.substr(0, sp1);
  const std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!ref_is_token(r->method) || target.empty()) return false;
  for (const char ch : target) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F) return false;
  }
  if (!ref_origin_form(r->method, target, &r->target)) return false;
  if (version == "HTTP/1.0") {
    r->minor = 0;
  } else if (version == "HTTP/1.1") {
    r->minor = 1;
  } else {
    return false;
  }
  return true;
}

bool ref_header_line(std::string_view line, RefRequest* r) {
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return false;
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = ref_trim(line.substr(colon + 1));
  if (!ref_is_token(name)) return false;
  for (const char ch : value) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\t') || c == 0x7F) return false;
  }
  r->headers.push_back({name, value});
  return true;
}

// Applies Content-Length, Connection and the rest once all lines are known.
bool ref_semantics(RefRequest* r) {
  bool seen_length = false, close = false, keep_alive = false;
  for (const RefHeader& h : r->headers) {
    if (ref_iequals(h.name, "content-length")) {
      // Any number of digits: leading zeros are allowed, only the value may overflow.
      if (h.value.empty()) return false;
      std::uint64_t n = 0;
      for (const char c : h.value) {
        if (c < '0' || c > '9') return false;
        const auto digit = static_cast<unsigned>(c - '0');
        if (__builtin_mul_overflow(n, 10u, &n) || __builtin_add_overflow(n, digit, &n)) {
          return false;
        }
      }
      if (seen_length && n != r->content_length) return false;
      seen_length = true;
      r->content_length = n;
    } else if (ref_iequals(h.name, "connection")) {
      std::string_view rest = h.value;
      for (;;) {
        const std::size_t comma = rest.find(',');
        const std::string_view item = ref_trim(rest.substr(0, comma));
        close = close || ref_iequals(item, "close");
        keep_alive = keep_alive || ref_iequals(item, "keep-alive");
        if (comma == std::string_view::npos) break;
        rest = rest.substr(comma + 1);
      }
    } else if (ref_iequals(h.name, "transfer-encoding")) {
      r->transfer_encoding = true;
    } else if (ref_iequals(h.name, "access-control-request-headers") && r->acrh.empty()) {
      r->acrh = h.value;
    } else if (ref_iequals(h.name, "last-event-id") && r->last_event_id.empty()) {
      r->last_event_id = h.value;
    }
  }
  r->keep_alive = !close && (r->minor == 1 || keep_alive);
  return true;
}

// Splits the scan window into complete lines and judges them in order.
RefOutcome ref_parse(std::string_view window, RefRequest* r) {
  enum { kLeading, kHeaders } state = kLeading;
  std::size_t pos = 0;
  for (;;) {
    const std::size_t lf = window.find('\n', pos);
    if (lf == std::string_view::npos) return RefOutcome::kIncomplete;
    std::string_view line = window.substr(pos, lf - pos);
    pos = lf + 1;
    // CRLF only: a line that does not end in CR before its LF is malformed.
    if (line.empty() || line.back() != '\r') return RefOutcome::kInvalid;
    line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return RefOutcome::kInvalid;
    if (state == kLeading) {
      if (line.empty()) continue;
      if (!ref_request_line(line, r)) return RefOutcome::kInvalid;
      state = kHeaders;
      continue;
    }
    if (line.empty()) break;
    if (ref_is_ows(line.front())) return RefOutcome::kInvalid;
    if (!ref_header_line(line, r)) return RefOutcome::kInvalid;
  }
  if (!ref_semantics(r)) return RefOutcome::kInvalid;
  r->head_length = pos;
  return RefOutcome::kValid;
}

// ---- Checks ----------------------------------------------------------------------

struct Outcome {
  ParseStatus status;
  std::size_t consumed;
};

Outcome parse_copy(const std::uint8_t* data, std::size_t n, HttpRequest* request) {
  // A block of exactly n bytes (one byte when n is 0, so the pointer is real).
  std::unique_ptr<char[]> copy(new char[n == 0 ? 1 : n]);
  if (n != 0) std::memcpy(copy.get(), data, n);
  Outcome o{ParseStatus::kPartial, 777};
  o.status = megacomet::parse_request_head(copy.get(), n, request, &o.consumed);
  return o;
}

bool inside(std::string_view part, const char* begin, std::size_t length) {
  return part.empty() || (part.data() >= begin && part.data() + part.size() <= begin + length);
}

void check_against_reference(const char* data, std::size_t input_size, const Outcome& got,
                             const HttpRequest& r) {
  const std::string_view window(data, std::min(input_size, kMaxHeadBytes));
  RefRequest ref;
  const RefOutcome want = ref_parse(window, &ref);
  switch (got.status) {
    case ParseStatus::kComplete: {
      CHECK(want == RefOutcome::kValid);
      CHECK(got.consumed == ref.head_length);
      CHECK(r.method_text == ref.method);
      CHECK(r.target == ref.target);
      CHECK(r.version_minor == ref.minor);
      CHECK(r.keep_alive == ref.keep_alive);
      CHECK(r.content_length == ref.content_length);
      CHECK(r.has_transfer_encoding == ref.transfer_encoding);
      CHECK(r.access_control_request_headers == ref.acrh);
      CHECK(r.last_event_id == ref.last_event_id);
      CHECK(r.header_count == std::min(ref.headers.size(), kMaxHeaders));
      for (std::size_t i = 0; i < r.header_count; ++i) {
        CHECK(r.headers[i].name == ref.headers[i].name);
        CHECK(r.headers[i].value == ref.headers[i].value);
      }
      const bool known = r.method_text == "GET" || r.method_text == "HEAD" ||
                         r.method_text == "OPTIONS" || r.method_text == "POST" ||
                         r.method_text == "PUT" || r.method_text == "DELETE";
      CHECK(r.method != Method::kUnknown);
      CHECK(known == (r.method != Method::kOther));
      break;
    }
    case ParseStatus::kError:
      // The reference only judges complete lines; the parser may also refuse
      // the unfinished last one.
      CHECK(want != RefOutcome::kValid);
      break;
    case ParseStatus::kPartial:
      CHECK(want == RefOutcome::kIncomplete);
      CHECK(input_size < kMaxHeadBytes);
      break;
    case ParseStatus::kTooLarge:
      CHECK(want == RefOutcome::kIncomplete);
      CHECK(input_size >= kMaxHeadBytes);
      break;
  }
  if (want == RefOutcome::kInvalid) CHECK(got.status == ParseStatus::kError);
}

void check_whole(const char* data, std::size_t input_size, const Outcome& got,
                 const HttpRequest& r) {
  CHECK(got.consumed <= input_size);
  if (got.status != ParseStatus::kComplete) {
    CHECK(got.consumed == 0);
    return;
  }
  CHECK(got.consumed > 0 && got.consumed <= kMaxHeadBytes);
  CHECK(got.consumed >= 2 && data[got.consumed - 2] == '\r' && data[got.consumed - 1] == '\n');
  CHECK(r.header_count <= kMaxHeaders);
  CHECK(!r.method_text.empty() && !r.target.empty());
  CHECK(inside(r.method_text, data, got.consumed));
  // The target is in the head, or the "/" or "/?query" of an absolute-form
  // target with an empty path (a static string or r.target_storage).
  CHECK(r.target.front() == '/' || r.target == "*");
  CHECK(inside(r.target, data, got.consumed) || r.target == "/" ||
        (r.target.data() == r.target_storage && r.target.size() <= sizeof r.target_storage &&
         r.target.substr(0, 2) == "/?"));
  CHECK(inside(r.access_control_request_headers, data, got.consumed));
  CHECK(inside(r.last_event_id, data, got.consumed));
  for (std::size_t i = 0; i < r.header_count; ++i) {
    CHECK(inside(r.headers[i].name, data, got.consumed));
    CHECK(inside(r.headers[i].value, data, got.consumed));
  }
}

// Over growing prefixes the status is kPartial, then one final answer forever.
void check_prefixes(const std::uint8_t* data, std::size_t input_size, const Outcome& whole) {
  std::vector<std::size_t> lengths;
  if (input_size <= 300) {
    for (std::size_t n = 0; n <= input_size; ++n) lengths.push_back(n);
  } else {
    for (const std::size_t n : {std::size_t{0}, std::size_t{1}, input_size / 4, input_size / 2,
                                input_size - 2, input_size - 1, input_size}) {
      lengths.push_back(n);
    }
    if (whole.status == ParseStatus::kComplete) {
      lengths.push_back(whole.consumed - 1);
      lengths.push_back(whole.consumed);
    }
    if (input_size > kMaxHeadBytes) {
      lengths.push_back(kMaxHeadBytes - 1);
      lengths.push_back(kMaxHeadBytes);
    }
    std::sort(lengths.begin(), lengths.end());
  }
  static HttpRequest request;
  bool settled = false;
  for (const std::size_t n : lengths) {
    const Outcome o = parse_copy(data, n, &request);
    if (!settled && o.status == ParseStatus::kPartial) {
      CHECK(n < kMaxHeadBytes);
      continue;
    }
    settled = true;
    CHECK(o.status == whole.status);
    CHECK(o.consumed == whole.consumed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t input_size) {
  static HttpRequest request;
  const char* text = reinterpret_cast<const char*>(data);
  Outcome whole{ParseStatus::kPartial, 777};
  whole.status = megacomet::parse_request_head(text, input_size, &request, &whole.consumed);
  check_whole(text, input_size, whole, request);
  check_against_reference(text, input_size, whole, request);
  check_prefixes(data, input_size, whole);
  return 0;
}
