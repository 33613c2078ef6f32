// Table-driven tests of parse_request_head. Every input is placed right before
// a PROT_NONE page (tiny_test::GuardedBuffer), so a read past the end of the
// bytes the parser was given crashes the test instead of passing by luck.
#include "../http_parser.h"

#include <iterator>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tiny_test.h"

namespace megacomet {

std::string show(ParseStatus status) {
  switch (status) {
    case ParseStatus::kComplete:
      return "kComplete";
    case ParseStatus::kPartial:
      return "kPartial";
    case ParseStatus::kError:
      return "kError";
    case ParseStatus::kTooLarge:
      return "kTooLarge";
  }
  return "ParseStatus(" + std::to_string(static_cast<int>(status)) + ")";
}

std::string show(Method method) {
  static constexpr const char* kNames[] = {"kUnknown", "kGet",  "kHead",   "kOptions",
                                           "kPost",    "kPut",  "kDelete", "kOther"};
  const auto index = static_cast<std::size_t>(method);
  return index < std::size(kNames) ? kNames[index] : "Method(" + std::to_string(index) + ")";
}

}  // namespace megacomet

namespace {

using namespace std::string_view_literals;
using megacomet::HttpRequest;
using megacomet::kMaxHeadBytes;
using megacomet::kMaxHeaders;
using megacomet::Method;
using megacomet::ParseStatus;
using tiny_test::Case;

// Large enough for the oversized inputs (a few bytes over 9 KiB).
tiny_test::GuardedBuffer& guarded() {
  static tiny_test::GuardedBuffer buffer(64 * 1024);
  return buffer;
}

// One request struct for every parse, so a field left over from an earlier
// request shows up as a failure.
HttpRequest& shared_request() {
  static HttpRequest request;
  return request;
}

struct Parsed {
  ParseStatus status;
  std::size_t consumed;
  std::string_view placed;  // the guarded copy the parser saw
};

bool inside(std::string_view part, std::string_view whole) {
  if (part.empty()) return true;  // an empty view may point anywhere
  return part.data() >= whole.data() && part.data() + part.size() <= whole.data() + whole.size();
}

// Checks what must hold for every call, whatever the input.
void expect_invariants(Case& c, const Parsed& parsed) {
  const HttpRequest& r = shared_request();
  c.expect(parsed.consumed <= parsed.placed.size(), "consumed is beyond the input");
  if (parsed.status != ParseStatus::kComplete) {
    c.expect_eq(parsed.consumed, std::size_t{0}, "consumed when not complete");
    return;
  }
  c.expect(parsed.consumed > 0 && parsed.consumed <= kMaxHeadBytes, "consumed out of range");
  c.expect(r.header_count <= kMaxHeaders, "header_count above kMaxHeaders");
  const std::string_view head = parsed.placed.substr(0, parsed.consumed);
  // The target may also be the origin-form "/" or "/?query" of an
  // absolute-form target with an empty path, which is not a run of the input.
  const std::string_view storage(r.target_storage, sizeof r.target_storage);
  const bool target_inside =
      inside(r.target, head) || r.target == "/" ||
      (inside(r.target, storage) && r.target.data() == storage.data() && r.target.size() > 1 &&
       r.target.substr(0, 2) == "/?");
  c.expect(target_inside, "the target points outside the head and is no origin-form of one");
  bool views_inside = inside(r.method_text, head) && inside(r.access_control_request_headers, head) &&
                      inside(r.last_event_id, head);
  for (std::size_t i = 0; i < r.header_count && i < kMaxHeaders; ++i) {
    views_inside =
        views_inside && inside(r.headers[i].name, head) && inside(r.headers[i].value, head);
  }
  c.expect(views_inside, "a string_view points outside the consumed head");
}

Parsed parse(Case& c, std::string_view input) {
  Parsed parsed{};
  parsed.placed = guarded().place(input);
  parsed.consumed = 12345;  // the parser must overwrite it
  parsed.status = megacomet::parse_request_head(parsed.placed.data(), parsed.placed.size(),
                                                &shared_request(), &parsed.consumed);
  expect_invariants(c, parsed);
  return parsed;
}

std::string repeat(char ch, std::size_t n) { return std::string(n, ch); }

// "GET /<padding> HTTP/1.1\r\n\r\n" grown to exactly `total` bytes.
std::string head_of_size(std::size_t total, std::string_view line_end = "\r\n") {
  const std::string fixed = "GET / HTTP/1.1" + std::string(line_end) + std::string(line_end);
  return "GET /" + repeat('a', total - fixed.size()) + " HTTP/1.1" + std::string(line_end) +
         std::string(line_end);
}

// A request with `count` headers named, ... and no blank line yet.
std::string request_with_headers(std::size_t count) {
  std::string text = "GET / HTTP/1.1\r\n";
  for (std::size_t i = 0; i < count; ++i) text += "X-" + std::to_string(i) + ": v\r\n";
  return text;
}

const std::string k64Headers = request_with_headers(kMaxHeaders) + "\r\n";
const std::string k65Headers = request_with_headers(kMaxHeaders + 1) + "\r\n";
const std::string k65HeadersNoEnd = request_with_headers(kMaxHeaders) + "X";
const std::string k65thHeaderBad = request_with_headers(kMaxHeaders) + "Bad Name: x\r\n\r\n";

// ---- Complete heads ----------------------------------------------------------

using HeaderList = std::vector<std::pair<std::string_view, std::string_view>>;

struct CompleteRow {
  const char* name;
  std::string_view input;
  Method method = Method::kGet;
  std::string_view method_text = "GET";
  std::string_view target = "/";
  int minor = 1;
  bool keep_alive = true;
  std::uint64_t content_length = 0;
  bool transfer_encoding = false;
  std::string_view acrh = {};
  std::string_view last_event_id = {};
  HeaderList headers = {};
  std::size_t header_count = ~std::size_t{0};  // defaults to headers.size()
};

const std::vector<CompleteRow> kCompleteRows = {
    {.name = "minimal GET", .input = "GET / HTTP/1.1\r\n\r\n"},
    {.name = "typical poll",
     .input = "GET /poll?client=abc&since=123 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
              "User-Agent: bench/1\r\nAccept: */*\r\n\r\n",
     .target = "/poll?client=abc&since=123",
     .headers = {{"Host", "127.0.0.1:8080"}, {"User-Agent", "bench/1"}, {"Accept", "*/*"}}},
    {.name = "HTTP/1.0 defaults to close",
     .input = "GET / HTTP/1.0\r\n\r\n",
     .minor = 0,
     .keep_alive = false},
    {.name = "HTTP/1.0 with Connection: keep-alive stays open",
     .input = "GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
     .minor = 0,
     .headers = {{"Connection", "keep-alive"}}},
    {.name = "HTTP/1.1 with Connection: close closes",
     .input = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
     .keep_alive = false,
     .headers = {{"Connection", "close"}}},
    {.name = "Connection list is case-insensitive",
     .input = "GET / HTTP/1.1\r\nconnection: Upgrade,CLOSE\r\n\r\n",
     .keep_alive = false,
     .headers = {{"connection", "Upgrade,CLOSE"}}},
    {.name = "Connection list items are trimmed",
     .input = "GET / HTTP/1.0\r\nConnection: TE ,\t Keep-Alive \t, foo\r\n\r\n",
     .minor = 0,
     .headers = {{"Connection", "TE ,\t Keep-Alive \t, foo"}}},
    {.name = "Connection close wins over keep-alive",
     .input = "GET / HTTP/1.1\r\nConnection: keep-alive, close\r\n\r\n",
     .keep_alive = false,
     .headers = {{"Connection", "keep-alive, close"}}},
    {.name = "Connection options add up across headers",
     .input = "GET / HTTP/1.0\r\nConnection: foo\r\nCONNECTION: keep-alive\r\n\r\n",
     .minor = 0,
     .headers = {{"Connection", "foo"}, {"CONNECTION", "keep-alive"}}},
    {.name = "Connection option that only starts with close is not close",
     .input = "GET / HTTP/1.1\r\nConnection: closed, xclose\r\n\r\n",
     .headers = {{"Connection", "closed, xclose"}}},
    {.name = "HEAD", .input = "HEAD /health HTTP/1.1\r\n\r\n", .method = Method::kHead,
     .method_text = "HEAD", .target = "/health"},
    {.name = "OPTIONS with asterisk-form", .input = "OPTIONS * HTTP/1.1\r\n\r\n",
     .method = Method::kOptions, .method_text = "OPTIONS", .target = "*"},
    {.name = "POST", .input = "POST / HTTP/1.1\r\n\r\n", .method = Method::kPost,
     .method_text = "POST"},
    {.name = "PUT", .input = "PUT / HTTP/1.1\r\n\r\n", .method = Method::kPut,
     .method_text = "PUT"},
    {.name = "DELETE", .input = "DELETE / HTTP/1.1\r\n\r\n", .method = Method::kDelete,
     .method_text = "DELETE"},
    {.name = "PATCH is another method", .input = "PATCH / HTTP/1.1\r\n\r\n",
     .method = Method::kOther, .method_text = "PATCH"},
    {.name = "methods are case-sensitive", .input = "get / HTTP/1.1\r\n\r\n",
     .method = Method::kOther, .method_text = "get"},
    {.name = "a method that starts like GET is another method", .input = "GETS / HTTP/1.1\r\n\r\n",
     .method = Method::kOther, .method_text = "GETS"},
    {.name = "token symbols in the method", .input = "M-SEARCH / HTTP/1.1\r\n\r\n",
     .method = Method::kOther, .method_text = "M-SEARCH"},
    // Absolute-form (RFC 9112 3.2.2): routed as the origin-form after the authority.
    {.name = "absolute-form target", .input = "GET http://a.example/p?q=1 HTTP/1.1\r\n\r\n",
     .target = "/p?q=1"},
    {.name = "absolute-form /health", .input = "GET http://127.0.0.1:8080/health HTTP/1.1\r\n\r\n",
     .target = "/health"},
    {.name = "absolute-form https poll", .input = "GET https://h/poll?client=a HTTP/1.1\r\n\r\n",
     .target = "/poll?client=a"},
    {.name = "absolute-form scheme and host in capitals", .input = "GET HTTP://HOST/x HTTP/1.1\r\n\r\n",
     .target = "/x"},
    {.name = "absolute-form scheme in mixed case", .input = "HEAD hTTpS://h/health HTTP/1.0\r\n\r\n",
     .method = Method::kHead, .method_text = "HEAD", .target = "/health", .minor = 0,
     .keep_alive = false},
    {.name = "absolute-form with an empty path is /", .input = "GET http://host HTTP/1.1\r\n\r\n"},
    {.name = "absolute-form with the path /", .input = "GET http://host/ HTTP/1.1\r\n\r\n"},
    {.name = "absolute-form with an empty path and a query is /?query",
     .input = "GET http://host?x=1 HTTP/1.1\r\n\r\n", .target = "/?x=1"},
    {.name = "absolute-form: a slash in the query does not end the authority",
     .input = "GET http://h?a=/b HTTP/1.1\r\n\r\n", .target = "/?a=/b"},
    {.name = "absolute-form: the authority is not checked",
     .input = "GET http://u@h:x:99/p HTTP/1.1\r\nHost: other\r\n\r\n", .target = "/p",
     .headers = {{"Host", "other"}}},
    {.name = "absolute-form: a path starting with two slashes is kept",
     .input = "GET http://h//x HTTP/1.1\r\n\r\n", .target = "//x"},
    {.name = "absolute-form with OPTIONS", .input = "OPTIONS http://h/poll HTTP/1.1\r\n\r\n",
     .method = Method::kOptions, .method_text = "OPTIONS", .target = "/poll"},
    {.name = "an origin-form target that looks like a URL stays as it is",
     .input = "GET /http://h/x HTTP/1.1\r\n\r\n", .target = "/http://h/x"},
    {.name = "preflight with Access-Control-Request-Headers",
     .input = "OPTIONS /poll HTTP/1.1\r\nOrigin: http://a\r\n"
              "Access-Control-Request-Method: GET\r\n"
              "access-control-request-headers:  x-a, X-B \t\r\n\r\n",
     .method = Method::kOptions,
     .method_text = "OPTIONS",
     .target = "/poll",
     .acrh = "x-a, X-B",
     .headers = {{"Origin", "http://a"},
                 {"Access-Control-Request-Method", "GET"},
                 {"access-control-request-headers", "x-a, X-B"}}},
    {.name = "the first Access-Control-Request-Headers wins",
     .input = "OPTIONS /poll HTTP/1.1\r\nAccess-Control-Request-Headers: a\r\n"
              "Access-Control-Request-Headers: b\r\n\r\n",
     .method = Method::kOptions,
     .method_text = "OPTIONS",
     .target = "/poll",
     .acrh = "a",
     .headers = {{"Access-Control-Request-Headers", "a"}, {"Access-Control-Request-Headers", "b"}}},
    {.name = "an EventSource's Last-Event-ID, trimmed",
     .input = "GET /events?client=a HTTP/1.1\r\nAccept: text/event-stream\r\nlast-event-id:  42 \r\n\r\n",
     .target = "/events?client=a",
     .last_event_id = "42",
     .headers = {{"Accept", "text/event-stream"}, {"last-event-id", "42"}}},
    {.name = "the first Last-Event-ID wins",
     .input = "GET /events HTTP/1.1\r\nLast-Event-ID: 1\r\nLAST-EVENT-ID: 2\r\n\r\n",
     .target = "/events",
     .last_event_id = "1",
     .headers = {{"Last-Event-ID", "1"}, {"LAST-EVENT-ID", "2"}}},
    {.name = "Content-Length",
     .input = "POST / HTTP/1.1\r\nContent-Length: 42\r\n\r\n",
     .method = Method::kPost,
     .method_text = "POST",
     .content_length = 42,
     .headers = {{"Content-Length", "42"}}},
    {.name = "Content-Length zero", .input = "GET / HTTP/1.1\r\ncontent-length: 0\r\n\r\n",
     .headers = {{"content-length", "0"}}},
    {.name = "Content-Length with leading zeros",
     .input = "GET / HTTP/1.1\r\nContent-Length: 007\r\n\r\n",
     .content_length = 7,
     .headers = {{"Content-Length", "007"}}},
    {.name = "Content-Length at the uint64 maximum",
     .input = "GET / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n",
     .content_length = 18446744073709551615ULL,
     .headers = {{"Content-Length", "18446744073709551615"}}},
    {.name = "the same Content-Length twice is accepted",
     .input = "GET / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
     .content_length = 5,
     .headers = {{"Content-Length", "5"}, {"Content-Length", "5"}}},
    {.name = "Transfer-Encoding is reported",
     .input = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
     .method = Method::kPost,
     .method_text = "POST",
     .transfer_encoding = true,
     .headers = {{"Transfer-Encoding", "chunked"}}},
    {.name = "spaces and tabs around values are trimmed",
     .input = "GET / HTTP/1.1\r\nA:\t  a b \t\r\nB:x\r\nC: \t \r\nD:\r\nE: in\tside\r\n\r\n",
     .headers = {{"A", "a b"}, {"B", "x"}, {"C", ""}, {"D", ""}, {"E", "in\tside"}}},
    {.name = "colons in a value are kept", .input = "GET / HTTP/1.1\r\nHost: a:80:x\r\n\r\n",
     .headers = {{"Host", "a:80:x"}}},
    {.name = "every token symbol in a header name",
     .input = "GET / HTTP/1.1\r\n!#$%&'*+-.^_`|~09azAZ: v\r\n\r\n",
     .headers = {{"!#$%&'*+-.^_`|~09azAZ", "v"}}},
    {.name = "non-ASCII bytes in the target",
     .input = "GET /caf\xC3\xA9?q=\xFF\x80 HTTP/1.1\r\n\r\n",
     .target = "/caf\xC3\xA9?q=\xFF\x80"},
    {.name = "non-ASCII bytes in a header value",
     .input = "GET / HTTP/1.1\r\nX-Name: Jos\xC3\xA9 \xFF\r\n\r\n",
     .headers = {{"X-Name", "Jos\xC3\xA9 \xFF"}}},
    {.name = "leading empty lines are skipped and consumed",
     .input = "\r\n\r\n\r\nGET /x HTTP/1.1\r\nHost: h\r\n\r\n",
     .target = "/x",
     .headers = {{"Host", "h"}}},
    {.name = "exactly kMaxHeaders headers", .input = k64Headers, .header_count = kMaxHeaders},
    {.name = "headers past kMaxHeaders are parsed but not kept", .input = k65Headers,
     .header_count = kMaxHeaders},
};

void expect_request(Case& c, const CompleteRow& row) {
  const HttpRequest& r = shared_request();
  c.expect_eq(r.method, row.method, "method");
  c.expect_eq(r.method_text, row.method_text, "method_text");
  c.expect_eq(r.target, row.target, "target");
  c.expect_eq(static_cast<int>(r.version_minor), row.minor, "version_minor");
  c.expect_eq(r.keep_alive, row.keep_alive, "keep_alive");
  c.expect_eq(r.content_length, row.content_length, "content_length");
  c.expect_eq(r.has_transfer_encoding, row.transfer_encoding, "has_transfer_encoding");
  c.expect_eq(r.access_control_request_headers, row.acrh, "access_control_request_headers");
  c.expect_eq(r.last_event_id, row.last_event_id, "last_event_id");
  const std::size_t want_count =
      row.header_count != ~std::size_t{0} ? row.header_count : row.headers.size();
  if (!c.expect_eq(r.header_count, want_count, "header_count")) return;
  for (std::size_t i = 0; i < row.headers.size(); ++i) {
    const std::string label = "header " + std::to_string(i);
    c.expect_eq(r.headers[i].name, row.headers[i].first, label + " name");
    c.expect_eq(r.headers[i].value, row.headers[i].second, label + " value");
  }
}

TINY_TEST(complete_heads_are_parsed_into_the_request) {
  for (const CompleteRow& row : kCompleteRows) {
    Case c("complete", row.name);
    const Parsed parsed = parse(c, row.input);
    if (!c.expect_eq(parsed.status, ParseStatus::kComplete, "status")) continue;
    c.expect_eq(parsed.consumed, row.input.size(), "consumed");
    expect_request(c, row);
  }
}

TINY_TEST(a_reused_request_struct_is_reset_by_each_parse) {
  Case c("complete", "fields from the previous request do not leak into the next one");
  parse(c, "POST /a HTTP/1.0\r\nContent-Length: 5\r\nTransfer-Encoding: x\r\n"
           "Access-Control-Request-Headers: y\r\n\r\n");
  const Parsed parsed = parse(c, "GET / HTTP/1.1\r\n\r\n");
  if (!c.expect_eq(parsed.status, ParseStatus::kComplete, "status")) return;
  expect_request(c, CompleteRow{.name = "", .input = ""});
}

TINY_TEST(an_empty_path_with_a_query_is_copied_out_of_the_input) {
  Case c("complete", "the origin-form /?query of http://host?query outlives the input bytes");
  std::string input = "GET http://host?client=a HTTP/1.1\r\n\r\n";
  const Parsed parsed = parse(c, input);
  if (!c.expect_eq(parsed.status, ParseStatus::kComplete, "status")) return;
  // The guarded copy the parser saw is overwritten: the target must not change.
  guarded().place(std::string(input.size(), 'x'));
  c.expect_eq(shared_request().target, "/?client=a"sv, "target");
}

// ---- Heads split at every byte -----------------------------------------------

const std::vector<std::pair<const char*, std::string_view>> kSplitRows = {
    {"typical poll",
     "GET /poll?client=abc&since=123 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
     "Connection: keep-alive\r\nAccept: */*\r\n\r\n"},
    {"HTTP/1.0 poll", "GET /poll?client=a HTTP/1.0\r\nHost: h\r\n\r\n"},
    {"absolute-form", "GET HTTPS://h:1/poll?client=a HTTP/1.0\r\nHost: h\r\n\r\n"},
    {"absolute-form with an empty path and a query", "GET http://h?client=a HTTP/1.1\r\n\r\n"},
    {"asterisk-form", "OPTIONS * HTTP/1.1\r\n\r\n"},
    {"leading empty lines", "\r\n\r\nGET / HTTP/1.1\r\nX: y\r\n\r\n"},
    {"preflight", "OPTIONS /poll HTTP/1.1\r\nAccess-Control-Request-Headers: x-a\r\n\r\n"},
    {"Content-Length and trimmed values",
     "POST / HTTP/1.1\r\nContent-Length:  12 \r\nX:\t\r\n\r\n"},
    {"non-ASCII target and value", "GET /\xC3\xA9 HTTP/1.1\r\nX: \xFF\r\n\r\n"},
};

TINY_TEST(every_proper_prefix_of_a_head_is_partial) {
  for (const auto& [name, input] : kSplitRows) {
    Case c("split", name);
    for (std::size_t n = 0; n < input.size(); ++n) {
      const Parsed parsed = parse(c, input.substr(0, n));
      if (!c.expect_eq(parsed.status, ParseStatus::kPartial,
                       "status of the first " + std::to_string(n) + " bytes")) {
        break;
      }
    }
    const Parsed whole = parse(c, input);
    c.expect_eq(whole.status, ParseStatus::kComplete, "status of the whole head");
    c.expect_eq(whole.consumed, input.size(), "consumed");
  }
}

// ---- Pipelined heads -----------------------------------------------------------

struct PipelineRow {
  const char* name;
  std::string_view input;
  std::size_t first_length;      // consumed by the first parse
  ParseStatus second_status;     // parsing what follows the first head
  std::string_view second_target = {};
  std::size_t second_length = 0;  // consumed by the second parse, when complete
};

const std::vector<PipelineRow> kPipelineRows = {
    {"two heads back to back", "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n", 19,
     ParseStatus::kComplete, "/b", 28},
    {"a CRLF between two heads belongs to the second",
     "GET /a HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 19, ParseStatus::kComplete, "/b", 21},
    {"the second head not yet complete", "GET /a HTTP/1.1\r\n\r\nGET /b HT", 19,
     ParseStatus::kPartial},
    {"garbage after a head is left to the next parse",
     "GET /a HTTP/1.1\r\n\r\n\x00\x01\x02garbage"sv, 19,
     ParseStatus::kError},
    {"an absolute-form head, then an origin-form one",
     "GET http://h/a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", 27, ParseStatus::kComplete, "/b",
     19},
    {"a bare LF after a head is refused by the next parse",
     "GET /a HTTP/1.1\r\n\r\n\nGET /b HTTP/1.1\r\n\r\n", 19, ParseStatus::kError},
};

TINY_TEST(pipelined_heads_are_consumed_one_at_a_time) {
  for (const PipelineRow& row : kPipelineRows) {
    Case c("pipelined", row.name);
    const Parsed first = parse(c, row.input);
    if (!c.expect_eq(first.status, ParseStatus::kComplete, "first status")) continue;
    if (!c.expect_eq(first.consumed, row.first_length, "first consumed")) continue;
    c.expect_eq(shared_request().target, "/a"sv, "first target");
    const Parsed second = parse(c, row.input.substr(first.consumed));
    c.expect_eq(second.status, row.second_status, "second status");
    if (row.second_status == ParseStatus::kComplete) {
      c.expect_eq(second.consumed, row.second_length, "second consumed");
      c.expect_eq(shared_request().target, row.second_target, "second target");
    }
  }
}

// ---- Malformed input -------------------------------------------------------------

struct StatusRow {
  const char* name;
  std::string_view input;
  ParseStatus status;
};

const std::vector<StatusRow> kMalformedRows = {
    {"bad method byte", "G(T / HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"non-ASCII byte in the method", "G\xC3\x89T / HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"request line starting with a space", " GET / HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"missing version", "GET /\r\n\r\n", ParseStatus::kError},
    {"missing target", "GET  HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"request line with only a method", "GET\r\n\r\n", ParseStatus::kError},
    {"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", ParseStatus::kError},
    {"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", ParseStatus::kError},
    {"HTTP/1.10", "GET / HTTP/1.10\r\n\r\n", ParseStatus::kError},
    {"HTTP/1 without minor", "GET / HTTP/1\r\n\r\n", ParseStatus::kError},
    {"lowercase http version", "GET / http/1.1\r\n\r\n", ParseStatus::kError},
    {"two spaces after the method", "GET  / HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"two spaces before the version", "GET /  HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"space after the version", "GET / HTTP/1.1 \r\n\r\n", ParseStatus::kError},
    {"tab between method and target", "GET\t/ HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"space inside the target", "GET /a b HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"bare CR ending the request line", "GET / HTTP/1.1\rHost: h\r\n\r\n", ParseStatus::kError},
    {"bare CR inside a header value", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", ParseStatus::kError},
    {"bare CR as the blank line", "GET / HTTP/1.1\r\n\rX\r\n\r\n", ParseStatus::kError},
    {"bare CR in a leading empty line", "\r GET / HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"CR CR LF", "GET / HTTP/1.1\r\r\n\r\n", ParseStatus::kError},
    {"obs-fold with a space", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", ParseStatus::kError},
    {"obs-fold with a tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", ParseStatus::kError},
    {"whitespace before the first header", "GET / HTTP/1.1\r\n Host: h\r\n\r\n",
     ParseStatus::kError},
    {"NUL in the method", "GE\0T / HTTP/1.1\r\n\r\n"sv, ParseStatus::kError},
    {"NUL in the target", "GET /a\0b HTTP/1.1\r\n\r\n"sv, ParseStatus::kError},
    {"NUL in a header name", "GET / HTTP/1.1\r\nX\0Y: v\r\n\r\n"sv, ParseStatus::kError},
    {"NUL in a header value", "GET / HTTP/1.1\r\nX: a\0b\r\n\r\n"sv, ParseStatus::kError},
    {"DEL in the target", "GET /a\x7F HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"DEL in a header value", "GET / HTTP/1.1\r\nX: a\x7F\r\n\r\n", ParseStatus::kError},
    {"control byte in a header value", "GET / HTTP/1.1\r\nX: a\x01\r\n\r\n", ParseStatus::kError},
    {"escape byte in the target", "GET /\x1B[0m HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"space before the colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", ParseStatus::kError},
    {"tab before the colon", "GET / HTTP/1.1\r\nHost\t: h\r\n\r\n", ParseStatus::kError},
    {"separator in a header name", "GET / HTTP/1.1\r\nHo(st: h\r\n\r\n", ParseStatus::kError},
    {"non-ASCII header name", "GET / HTTP/1.1\r\n\xC3\xA9: h\r\n\r\n", ParseStatus::kError},
    {"empty header name", "GET / HTTP/1.1\r\n: h\r\n\r\n", ParseStatus::kError},
    {"header line without a colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", ParseStatus::kError},
    {"Content-Length with letters", "GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
     ParseStatus::kError},
    {"negative Content-Length", "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
     ParseStatus::kError},
    {"Content-Length with a plus sign", "GET / HTTP/1.1\r\nContent-Length: +1\r\n\r\n",
     ParseStatus::kError},
    {"hexadecimal Content-Length", "GET / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n",
     ParseStatus::kError},
    {"empty Content-Length", "GET / HTTP/1.1\r\nContent-Length: \r\n\r\n", ParseStatus::kError},
    {"Content-Length with an inner space", "GET / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n",
     ParseStatus::kError},
    {"Content-Length as a list", "GET / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n",
     ParseStatus::kError},
    {"Content-Length one above uint64",
     "GET / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", ParseStatus::kError},
    {"Content-Length far above uint64",
     "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", ParseStatus::kError},
    {"conflicting Content-Lengths",
     "GET / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\n", ParseStatus::kError},
    {"a header past kMaxHeaders is still checked", k65thHeaderBad, ParseStatus::kError},
    // The request-target: origin-form, absolute-form (http, https) or "*" for OPTIONS only.
    {"a relative target", "GET health HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"a relative target starting like http", "GET httpx HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"a query without a path", "GET ?client=a HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"asterisk-form with GET", "GET * HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"asterisk-form with another method", "M-SEARCH * HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"asterisk followed by more with OPTIONS", "OPTIONS *x HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"authority-form", "CONNECT a.example:443 HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"absolute-form with another scheme", "GET ftp://h/x HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"absolute-form with the scheme only", "GET http:// HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"absolute-form with an empty authority", "GET http:///x HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"absolute-form with an empty authority and a query", "GET https://?x HTTP/1.1\r\n\r\n",
     ParseStatus::kError},
    {"absolute-form with one slash", "GET http:/h/x HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"absolute-form without slashes", "GET http:h HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"scheme with a space before the slashes", "GET http: //h/x HTTP/1.1\r\n\r\n",
     ParseStatus::kError},
    // Line ends are CRLF only.
    {"LF-only line ends", "GET /a HTTP/1.1\nHost: h\nX: y\n\n", ParseStatus::kError},
    {"bare LF ending the request line", "GET /a HTTP/1.1\nHost: h\r\n\r\n", ParseStatus::kError},
    {"bare LF ending a header line", "GET /a HTTP/1.1\r\nHost: h\nX: y\r\n\r\n",
     ParseStatus::kError},
    {"bare LF as the blank line", "GET /a HTTP/1.1\r\nHost: h\r\n\n", ParseStatus::kError},
    {"CRLF and bare LF mixed", "GET /a HTTP/1.1\nHost: h\r\nX: y\n\r\n", ParseStatus::kError},
    {"LF CR LF as the blank line", "GET /a HTTP/1.1\r\n\n\r\n", ParseStatus::kError},
    {"a bare LF as a leading empty line", "\nGET /a HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"a bare LF after a leading CRLF", "\r\n\nGET /a HTTP/1.1\r\n\r\n", ParseStatus::kError},
    {"a bare LF in a header value", "GET /a HTTP/1.1\r\nX: a\nb\r\n\r\n", ParseStatus::kError},
};

// An error must be reported as soon as the offending byte arrives: a client
// streaming garbage is refused without waiting for a full head or 8 KiB.
const std::vector<StatusRow> kEarlyRows = {
    {"TLS ClientHello on the plain port", "\x16\x03\x01\x02\x00\x01\x00\x01\xFC\x03\x03"sv,
     ParseStatus::kError},
    {"a single NUL", "\0"sv, ParseStatus::kError},
    {"HTTP/2 connection preface", "PRI * HTTP/2.0\r\n", ParseStatus::kError},
    {"HTTP/2 before the line ends", "GET / HTTP/2", ParseStatus::kError},
    {"HTTP/1.2 before the line ends", "GET / HTTP/1.2", ParseStatus::kError},
    {"space before a colon before the value", "GET / HTTP/1.1\r\nHost :", ParseStatus::kError},
    {"obs-fold before the rest of the line", "GET / HTTP/1.1\r\nX: a\r\n ", ParseStatus::kError},
    {"bad Content-Length before the blank line",
     "GET / HTTP/1.1\r\nContent-Length: 1x\r\n", ParseStatus::kError},
    {"a relative target at its first byte that cannot start http://", "GET he",
     ParseStatus::kError},
    {"another scheme at its first byte", "GET f", ParseStatus::kError},
    {"asterisk with GET before the space", "GET *", ParseStatus::kError},
    {"a bare LF ending the request line", "GET / HTTP/1.1\n", ParseStatus::kError},
    {"a bare LF as the first byte", "\n", ParseStatus::kError},
    {"the 65th header line starting", k65HeadersNoEnd, ParseStatus::kPartial},
    {"a target that may still become http://", "GET HTTP:/", ParseStatus::kPartial},
    {"a target that may still become https://", "GET https:/", ParseStatus::kPartial},
    {"an absolute-form target before its space", "GET http://h/poll?x", ParseStatus::kPartial},
    {"asterisk with OPTIONS before the space", "OPTIONS *", ParseStatus::kPartial},
    {"empty input", "", ParseStatus::kPartial},
    {"one method byte", "G", ParseStatus::kPartial},
    {"a lone CR", "\r", ParseStatus::kPartial},
    {"CR at the end of the request line", "GET / HTTP/1.1\r", ParseStatus::kPartial},
    {"CR of the blank line", "GET / HTTP/1.1\r\nX: y\r\n\r", ParseStatus::kPartial},
    {"a header name without its colon yet", "GET / HTTP/1.1\r\nHost", ParseStatus::kPartial},
};

void run_status_rows(const char* group, const std::vector<StatusRow>& rows) {
  for (const StatusRow& row : rows) {
    Case c(group, row.name);
    c.expect_eq(parse(c, row.input).status, row.status, "status");
  }
}

TINY_TEST(malformed_heads_are_errors) { run_status_rows("malformed", kMalformedRows); }

TINY_TEST(errors_are_found_before_the_head_is_complete) { run_status_rows("early", kEarlyRows); }

// The target and values are scanned eight bytes at a time first, so a byte
// that ends the run must be found at every offset within and across words.
const std::string kLongRun = "0123456789abcdefghijklmnopqrstuv";

TINY_TEST(a_bad_byte_is_found_at_every_offset_of_a_long_run) {
  struct ByteRow {
    const char* name;
    char byte;
  };
  const ByteRow kBadInTarget[] = {{"NUL", '\0'}, {"US", '\x1F'}, {"DEL", '\x7F'}, {"tab", '\t'}};
  const ByteRow kBadInValue[] = {{"NUL", '\0'}, {"US", '\x1F'}, {"DEL", '\x7F'}, {"bare CR", '\r'}};
  const ByteRow kGoodInValue[] = {{"tab", '\t'}, {"space", ' '}, {"obs-text", '\x80'}};
  for (const ByteRow& row : kBadInTarget) {
    Case c("byte offsets", std::string(row.name) + " in the target");
    for (std::size_t at = 0; at < kLongRun.size(); ++at) {
      std::string target = "/" + kLongRun;
      target[1 + at] = row.byte;
      const std::string input = "GET " + target + " HTTP/1.1\r\n\r\n";
      const std::string label = "status at offset " + std::to_string(at);
      if (!c.expect_eq(parse(c, input).status, ParseStatus::kError, label)) break;
    }
  }
  for (const ByteRow& row : kBadInValue) {
    Case c("byte offsets", std::string(row.name) + " in a header value");
    for (std::size_t at = 0; at < kLongRun.size(); ++at) {
      std::string value = kLongRun;
      value[at] = row.byte;
      const std::string input = "GET / HTTP/1.1\r\nX: " + value + "\r\n\r\n";
      const std::string label = "status at offset " + std::to_string(at);
      if (!c.expect_eq(parse(c, input).status, ParseStatus::kError, label)) break;
    }
  }
  for (const ByteRow& row : kGoodInValue) {
    Case c("byte offsets", std::string(row.name) + " inside a header value is kept");
    for (std::size_t at = 1; at + 1 < kLongRun.size(); ++at) {
      std::string value = kLongRun;
      value[at] = row.byte;
      const std::string input = "GET / HTTP/1.1\r\nX: " + value + "\r\n\r\n";
      const Parsed parsed = parse(c, input);
      const std::string label = " at offset " + std::to_string(at);
      if (!c.expect_eq(parsed.status, ParseStatus::kComplete, "status" + label)) break;
      const std::string_view got = shared_request().headers[0].value;
      if (!c.expect_eq(got, std::string_view(value), "value" + label)) break;
    }
  }
}

// ---- Oversized heads ---------------------------------------------------------------

const std::string kLongPath = "GET /" + repeat('a', 9000) + " HTTP/1.1\r\n\r\n";
const std::string kHead8192 = head_of_size(kMaxHeadBytes);
const std::string kHead8193 = head_of_size(kMaxHeadBytes + 1);
const std::string kHead8193Lf = head_of_size(kMaxHeadBytes + 1, "\n");
const std::string kLongAbsolute = "GET http://h/" + repeat('a', 9000) + " HTTP/1.1\r\n\r\n";
const std::string kLongRelative = "GET h" + repeat('a', 9000) + " HTTP/1.1\r\n\r\n";
const std::string kLongHeader =
    "GET / HTTP/1.1\r\nCookie: " + repeat('c', kMaxHeadBytes) + "\r\n\r\n";

struct SizeRow {
  const char* name;
  std::string input;  // owned: several rows are built by concatenation
  ParseStatus status;
  std::size_t consumed = 0;
};

const std::vector<SizeRow> kSizeRows = {
    {"a path longer than the limit (431)", kLongPath, ParseStatus::kTooLarge},
    {"a long path one byte short of the limit", kLongPath.substr(0, kMaxHeadBytes - 1),
     ParseStatus::kPartial},
    {"a long path reaching the limit", kLongPath.substr(0, kMaxHeadBytes), ParseStatus::kTooLarge},
    {"a complete head of exactly the limit", kHead8192, ParseStatus::kComplete, kMaxHeadBytes},
    {"a head of exactly the limit followed by more bytes", kHead8192 + "GET / HTTP/1.1\r\n\r\n",
     ParseStatus::kComplete, kMaxHeadBytes},
    {"a complete head one byte over the limit", kHead8193, ParseStatus::kTooLarge},
    {"a head over the limit with bare LF line ends is malformed", kHead8193Lf,
     ParseStatus::kError},
    {"an absolute-form target longer than the limit (431)", kLongAbsolute, ParseStatus::kTooLarge},
    {"a relative target longer than the limit is malformed", kLongRelative, ParseStatus::kError},
    {"a head whose final byte is the 8193rd", kHead8193.substr(0, kMaxHeadBytes),
     ParseStatus::kTooLarge},
    {"a header value longer than the limit", kLongHeader, ParseStatus::kTooLarge},
    {"leading empty lines filling the limit",
     [] {
       std::string lines;
       for (std::size_t i = 0; i < kMaxHeadBytes / 2; ++i) lines += "\r\n";
       return lines + "GET / HTTP/1.1\r\n\r\n";
     }(),
     ParseStatus::kTooLarge},
    {"an error past the limit is never reached", "GET /" + repeat('a', 9000) + "\x01",
     ParseStatus::kTooLarge},
    {"an error within the limit wins over the size", "GET /a\x01" + repeat('a', 9000),
     ParseStatus::kError},
};

TINY_TEST(heads_over_the_limit_are_too_large) {
  for (const SizeRow& row : kSizeRows) {
    Case c("oversized", row.name);
    const Parsed parsed = parse(c, row.input);
    c.expect_eq(parsed.status, row.status, "status");
    if (row.status == ParseStatus::kComplete) {
      c.expect_eq(parsed.consumed, row.consumed, "consumed");
    }
  }
}

}  // namespace
