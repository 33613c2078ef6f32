// Unit tests of the generator's pure parts: `make -C bench/loadgen test`.
// Tables of raw inputs; each failure names its case. Exit code 1 if any failed.
#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "app_reply.h"
#include "histogram.h"
#include "http_response.h"
#include "json_scan.h"
#include "message_lines.h"
#include "nchan_http.h"
#include "options.h"
#include "poll_body.h"
#include "sequence_check.h"

using namespace loadgen;

namespace {

int g_failed = 0;
int g_passed = 0;

void check(bool ok, const std::string& what) {
  if (ok) {
    g_passed++;
  } else {
    g_failed++;
    std::fprintf(stderr, "FAIL: %s\n", what.c_str());
  }
}

void response_heads() {
  struct Case {
    const char* name;
    std::string_view bytes;
    HeadParse expected;
    int status;
    uint64_t length;
    bool close;
  };
  const Case cases[] = {
      {"a keep-alive 200 is complete", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}", HeadParse::complete, 200, 2, false},
      {"header names are case-insensitive", "HTTP/1.1 200 OK\r\ncontent-length:  7 \r\n\r\n", HeadParse::complete, 200, 7, false},
      {"Connection: close is seen", "HTTP/1.1 503 x\r\nConnection: Close\r\nContent-Length: 0\r\n\r\n", HeadParse::complete, 503, 0, true},
      {"HTTP/1.0 closes unless keep-alive", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", HeadParse::complete, 200, 0, true},
      {"HTTP/1.0 keep-alive stays open", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", HeadParse::complete, 200, 0, false},
      {"a head without its blank line is partial", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", HeadParse::partial, 0, 0, false},
      {"an empty buffer is partial", "", HeadParse::partial, 0, 0, false},
      {"a missing Content-Length is an error", "HTTP/1.1 200 OK\r\n\r\n", HeadParse::error, 0, 0, false},
      {"chunked coding is an error", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", HeadParse::error, 0, 0, false},
      {"a non-HTTP status line is an error", "HTTP/2 200 OK\r\nContent-Length: 0\r\n\r\n", HeadParse::error, 0, 0, false},
      {"a bad Content-Length is an error", "HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", HeadParse::error, 0, 0, false},
      {"a header line without colon is an error", "HTTP/1.1 200 OK\r\nBogus\r\nContent-Length: 0\r\n\r\n", HeadParse::error, 0, 0, false},
  };
  for (const Case& c : cases) {
    ResponseHead head;
    const HeadParse got = parse_response_head(c.bytes, head);
    check(got == c.expected, std::string("response head: ") + c.name);
    if (got == HeadParse::complete && c.expected == HeadParse::complete) {
      check(head.status == c.status && head.content_length == c.length && head.close == c.close,
            std::string("response head fields: ") + c.name);
    }
  }
  ResponseHead head;
  const std::string huge = "HTTP/1.1 200 OK\r\nX: " + std::string(20000, 'a');
  check(parse_response_head(huge, head) == HeadParse::error, "response head: over 16 KiB without end is an error");
  const std::string_view with_body = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}";
  parse_response_head(with_body, head);
  check(with_body.substr(head.head_length) == "{}", "response head: head_length points at the body");
}

void poll_bodies() {
  struct Case {
    const char* name;
    std::string_view body;
    bool ok;
    int64_t cursor;
    std::vector<PolledMessage> messages;
  };
  const Case cases[] = {
      {"an empty poll answer", R"({"cursor":0,"messages":[]})", true, 0, {}},
      {"our messages", R"({"cursor":42,"messages":[{"t":100,"s":1},{"t":200,"s":2}]})", true, 42, {{100, 1}, {200, 2}}},
      {"keys in any order, whitespace, extra keys",
       " { \"messages\" : [ { \"s\" : 3 , \"x\":[1,{\"y\":null}], \"t\" : 9 } ] , \"extra\":{\"a\":[true,false]}, \"cursor\" : 7 } ",
       true, 7, {{9, 3}}},
      {"foreign data gets t = s = -1", R"({"cursor":5,"messages":["hi",{"a":1},[1,2],3.5,null]})", true, 5,
       {{-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}, {-1, -1}}},
      {"a missing cursor is refused", R"({"messages":[]})", false, 0, {}},
      {"missing messages are refused", R"({"cursor":1})", false, 0, {}},
      {"a negative cursor is refused", R"({"cursor":-1,"messages":[]})", false, 0, {}},
      {"trailing bytes are refused", R"({"cursor":1,"messages":[]}x)", false, 0, {}},
      {"a truncated body is refused", R"({"cursor":1,"messages":[{"t":1,)", false, 0, {}},
      {"a JSONP body is refused", R"(/**/f({"cursor":1,"messages":[]});)", false, 0, {}},
      {"a fractional seq is refused", R"({"cursor":1,"messages":[{"t":1,"s":1.5}]})", false, 0, {}},
  };
  std::vector<PolledMessage> got;
  for (const Case& c : cases) {
    int64_t cursor = -99;
    const bool ok = parse_poll_body(c.body, cursor, got);
    check(ok == c.ok, std::string("poll body: ") + c.name);
    if (!ok || !c.ok) continue;
    bool same = cursor == c.cursor && got.size() == c.messages.size();
    for (size_t i = 0; same && i < got.size(); i++) {
      same = got[i].t == c.messages[i].t && got[i].s == c.messages[i].s;
    }
    check(same, std::string("poll body fields: ") + c.name);
  }
}

void app_replies() {
  struct Case {
    const char* name;
    std::string_view line;
    bool parsed;
    bool ok;
    std::string_view error;
  };
  const Case cases[] = {
      {"a send reply", R"({"ok":true,"id":123})", true, true, ""},
      {"a fan-out reply", R"({"ok":true,"ids":[1,2,3],"ref":{"a":"b"}})", true, true, ""},
      {"an error reply", R"({"ok":false,"error":"queue_full","message":"queue of \"c1\" is full"})", true, false, "queue_full"},
      {"ok after error", R"({"error":"bad_request","message":"x","ok":false})", true, false, "bad_request"},
      {"no ok key", R"({"id":1})", false, false, ""},
      {"ok that is not boolean", R"({"ok":1})", false, false, ""},
      {"not JSON", "hello", false, false, ""},
  };
  for (const Case& c : cases) {
    AppReply reply;
    const bool parsed = parse_app_reply(c.line, reply);
    check(parsed == c.parsed, std::string("app reply: ") + c.name);
    if (parsed && c.parsed) {
      check(reply.ok == c.ok && reply.error == c.error, std::string("app reply fields: ") + c.name);
    }
  }
}

void json_skipping() {
  const char* values[] = {R"([[[[]]],{"a":{"b":[1,"x\"y"]}}])", "-1.5e+3", "\"\\\\\"", "{}", "[]", "true"};
  for (const char* v : values) {
    JsonScan scan(v);
    check(scan.skip_value() && scan.at_end(), std::string("json skip: ") + v);
  }
  const char* bad[] = {"[1,]", "{\"a\" 1}", "[1 2]", "tru", "{\"a\":}", "[", "x"};
  for (const char* v : bad) {
    JsonScan scan(v);
    check(!(scan.skip_value() && scan.at_end()), std::string("json skip refuses: ") + v);
  }
  std::string deep(100, '[');
  deep += std::string(100, ']');
  JsonScan scan(deep);
  check(!scan.skip_value(), "json skip: nesting deeper than 64 is refused");
}

void histogram_buckets() {
  // Buckets are contiguous and ordered: each starts right after the previous one ends.
  bool contiguous = true;
  for (int i = 1; i < Histogram::kBuckets; i++) {
    contiguous = contiguous && Histogram::lowest_of(i) == Histogram::highest_of(i - 1) + 1;
  }
  check(contiguous, "histogram: buckets tile the value range without holes");
  bool round_trip = true;
  for (int64_t v : {int64_t{0}, int64_t{1}, int64_t{127}, int64_t{128}, int64_t{129}, int64_t{1000},
                    int64_t{123456789}, int64_t{1} << 40, INT64_MAX}) {
    const int i = Histogram::index_of(v);
    round_trip = round_trip && i < Histogram::kBuckets && Histogram::lowest_of(i) <= uint64_t(v) &&
                 uint64_t(v) <= Histogram::highest_of(i);
  }
  check(round_trip, "histogram: every value lies inside its bucket");
  const int i = Histogram::index_of(1000000);
  const double width = double(Histogram::highest_of(i) - Histogram::lowest_of(i) + 1);
  check(width / 1e6 < 0.02, "histogram: a bucket is under 2% of its values");

  Histogram h;
  for (int v = 1; v <= 1000; v++) h.record(v * 1000);
  check(h.count() == 1000 && h.min() == 1000 && h.max() == 1000000, "histogram: count, min, max");
  const int64_t p50 = h.percentile(50);
  check(p50 >= 500000 && p50 <= 510000, "histogram: p50 of 1..1000 us is 500 us within a bucket");
  check(h.percentile(100) == 1000000, "histogram: p100 is the max");
  Histogram other;
  other.record(5);
  h.merge(other);
  check(h.count() == 1001 && h.min() == 5, "histogram: merge adds counts and keeps the min");
  std::string json;
  other.append_json(json);
  check(json == R"({"count":1,"min":5,"max":5,"buckets":[[5,1]]})", "histogram: JSON lists non-empty buckets");
}

void sequences() {
  DeliveryCounts counts;
  int64_t last = 0;
  for (int64_t s : {1, 2, 2, 4, 3, 5, -1}) check_sequence(last, s, counts);
  check(counts.received == 7 && counts.duplicated == 2 && counts.gaps == 1 && counts.foreign == 1 && last == 5,
        "sequence: repeats and late numbers are duplicates, skipped ones are gaps");
}

void lines() {
  std::string out;
  append_send_line(out, "c", 17, 123, 4);
  check(out == "{\"op\":\"send\",\"client\":\"c17\",\"data\":{\"t\":123,\"s\":4}}\n", "lines: a send line");
  out.clear();
  append_fanout_line(out, quoted_ids("c", 3, 2), 9, 1);
  check(out == "{\"op\":\"send\",\"clients\":[\"c3\",\"c4\"],\"data\":{\"t\":9,\"s\":1}}\n", "lines: a fan-out line");
  out.clear();
  append_publish_line(out, "room.1", 9, 2);
  check(out == "{\"op\":\"publish\",\"group\":\"room.1\",\"data\":{\"t\":9,\"s\":2}}\n", "lines: a publish line");
}

void seq_spreads() {
  SeqSpread all_one;
  for (int64_t s : {1, 1, 1}) all_one.add(s);
  check(all_one.min == 1 && all_one.max == 1 && all_one.at_min == 3 && all_one.clients == 3,
        "seq spread: every client at one number");
  SeqSpread behind;
  for (int64_t s : {2, 1, 2, 0, 0, 2}) behind.add(s);
  check(behind.min == 0 && behind.max == 2 && behind.at_min == 2 && behind.clients == 6,
        "seq spread: min, max and how many are furthest behind");
  SeqSpread none;
  check(none.clients == 0 && none.at_min == 0, "seq spread: empty");
}

void fanout_rounds() {
  // Every client exactly once, in order, at most `group` per line.
  struct Case {
    uint32_t clients;
    uint32_t group;
    size_t lines;
  };
  const Case cases[] = {{5000, 10000, 1}, {10000, 10000, 1}, {25001, 10000, 3}, {1000000, 10000, 100}, {7, 3, 3}, {0, 10, 0}};
  for (const Case& c : cases) {
    const std::vector<ClientRange> ranges = fanout_ranges(c.clients, c.group);
    uint64_t next = 0;
    bool ok = ranges.size() == c.lines;
    for (const ClientRange& r : ranges) {
      ok = ok && r.first == next && r.count >= 1 && r.count <= c.group;
      next += r.count;
    }
    check(ok && next == c.clients,
          "fan-out: " + std::to_string(c.clients) + " clients in lines of " + std::to_string(c.group) +
              " cover each once");
  }
  check(fanout_ranges(10, 0).empty(), "fan-out: group 0 gives no lines");
}

void sequential_targets() {
  std::vector<int> hits(1000, 0);
  bool in_order = true;
  for (uint64_t k = 0; k < 1000; k++) {
    const uint32_t c = sequential_client(k, 1000);
    in_order = in_order && c == k;
    hits[c]++;
  }
  bool once = true;
  for (int h : hits) once = once && h == 1;
  check(in_order && once, "sequential: --messages = --clients sends each client one message, in order");
  check(sequential_client(1000, 1000) == 0 && sequential_client(2501, 1000) == 501,
        "sequential: a second pass starts again at client 0");
}

// parse_options with argv from strings; its complaints about bad flags go to /dev/null.
bool parse(std::vector<std::string> args, Options& out) {
  args.insert(args.begin(), "loadgen");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  std::fflush(stderr);
  const int saved = dup(STDERR_FILENO);
  const int null = open("/dev/null", O_WRONLY);
  if (null >= 0) dup2(null, STDERR_FILENO);
  const bool ok = parse_options(static_cast<int>(argv.size()), argv.data(), out);
  std::fflush(stderr);
  if (saved >= 0) dup2(saved, STDERR_FILENO);
  if (null >= 0) close(null);
  if (saved >= 0) close(saved);
  return ok;
}

void send_options() {
  Options o;
  check(parse({"send", "--app-port", "9", "--clients", "10", "--messages", "10"}, o) &&
            o.order == SendOrder::random && o.first_seq == 0,
        "options: send defaults to random targets from sequence 1");
  o = Options{};
  check(parse({"send", "--app-port", "9", "--clients", "10", "--messages", "10", "--order", "sequential",
               "--first-seq", "1"}, o) &&
            o.order == SendOrder::sequential && o.first_seq == 1,
        "options: --order sequential and --first-seq are read");
  o = Options{};
  check(parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--fanout", "10",
               "--first-seq", "1"}, o) &&
            o.fanout == 10 && o.first_seq == 1,
        "options: --first-seq applies to fan-out rounds");
  o = Options{};
  check(!parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--order", "shuffled"}, o),
        "options: an unknown --order is refused");
  o = Options{};
  check(!parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--fanout", "10", "--order",
                "sequential"}, o),
        "options: --order sequential with --fanout is refused");
  o = Options{};
  check(parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--publish", "room.1"}, o) &&
            o.publish == "room.1",
        "options: --publish is read");
  o = Options{};
  check(!parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--publish", "a b"}, o),
        "options: a --publish group outside the name rule is refused");
  o = Options{};
  check(!parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--publish", "g", "--fanout", "5"}, o),
        "options: --publish with --fanout is refused");
  o = Options{};
  check(!parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--first-seq", "-1"}, o),
        "options: a negative --first-seq is refused");
  o = Options{};
  check(parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1"}, o) && o.stall_seconds == 15,
        "options: the sender gives up after 15 s without a reply by default");
  o = Options{};
  check(parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--stall-seconds", "300"}, o) &&
            o.stall_seconds == 300,
        "options: --stall-seconds is read");
  o = Options{};
  check(!parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--stall-seconds", "0.5"}, o),
        "options: --stall-seconds under 1 is refused");
}

void resumed_sequences() {
  // A second sender with --first-seq 1 to clients that each got message 1: no gap, no duplicate.
  DeliveryCounts counts;
  int64_t last = 0;
  check_sequence(last, 1, counts);  // first run (--first-seq 0)
  check_sequence(last, 2, counts);  // second run (--first-seq 1)
  check(counts.received == 2 && counts.duplicated == 0 && counts.gaps == 0 && last == 2,
        "sequence: a second run continuing at --first-seq is seen as in order");
}

void nchan_wire() {
  // The answer heads Nchan 1.3.6 gives (copied from a run of bench/nchan/nginx.conf.template).
  const std::string_view message =
      "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nContent-Type: application/x-www-form-urlencoded\r\n"
      "Content-Length: 13\r\nLast-Modified: Wed, 02 Dec 2026 16:16:23 GMT\r\nConnection: keep-alive\r\n"
      "Etag: 0\r\nVary: If-None-Match, If-Modified-Since\r\n\r\n{\"t\":1,\"s\":1}";
  ResponseHead head;
  check(parse_response_head(message, head) == HeadParse::complete && head.status == 200 &&
            head.content_length == 13 && head.last_modified == "Wed, 02 Dec 2026 16:16:23 GMT" &&
            head.etag == "0" && !head.close,
        "nchan: a message answer's head gives its Last-Modified and Etag");
  NchanCursor cursor;
  check(cursor.empty() && cursor.update(head) && cursor.etag == "0" && !cursor.empty(),
        "nchan: the cursor takes Last-Modified and Etag");
  PolledMessage m;
  check(parse_message_body(message.substr(head.head_length), m) && m.t == 1 && m.s == 1,
        "nchan: the body is the published message");
  check(parse_message_body("{\"other\":[1]}", m) && m.t == -1 && m.s == -1, "nchan: foreign JSON is a message without t/s");
  check(!parse_message_body("{\"t\":1", m) && !parse_message_body("{\"t\":1} x", m),
        "nchan: a cut or trailing body is not a message");

  ResponseHead timeout;
  check(parse_response_head("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n", timeout) ==
                HeadParse::complete &&
            classify_nchan_poll_answer(timeout.status) == NchanAnswer::empty && !cursor.update(timeout) && cursor.etag == "0",
        "nchan: 408 is an empty poll and leaves the cursor as it was");
  ResponseHead not_modified;
  check(parse_response_head("HTTP/1.1 304 Not Modified\r\nEtag: 3\r\n\r\n", not_modified) == HeadParse::complete &&
            not_modified.content_length == 0 && classify_nchan_poll_answer(304) == NchanAnswer::empty,
        "nchan: 304 needs no Content-Length and is an empty poll");
  check(classify_nchan_poll_answer(200) == NchanAnswer::message && classify_nchan_poll_answer(403) == NchanAnswer::error &&
            classify_nchan_poll_answer(500) == NchanAnswer::error,
        "nchan: 200 is a message, other statuses errors");
  check(nchan_published(201) && nchan_published(202) && !nchan_published(200) && !nchan_published(403),
        "nchan: 201 and 202 mean published");

  std::string out;
  append_nchan_poll(out, "c", 7, "127.0.0.1:80", NchanCursor{});
  check(out == "GET /sub/c7 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", "nchan: a first poll has no cursor headers");
  out.clear();
  append_nchan_poll(out, "c", 7, "127.0.0.1:80", cursor);
  check(out == "GET /sub/c7 HTTP/1.1\r\nHost: 127.0.0.1:80\r\nIf-Modified-Since: Wed, 02 Dec 2026 16:16:23 GMT\r\n"
               "If-None-Match: 0\r\n\r\n",
        "nchan: a later poll sends the cursor back");
  out.clear();
  append_nchan_publish(out, "c", 12, "h:1", -5, 123456789012);
  check(out == "POST /pub/c12 HTTP/1.1\r\nHost: h:1\r\nContent-Length: 25\r\n\r\n{\"t\":-5,\"s\":123456789012}",
        "nchan: a publish carries the message and its length");

  Options o;
  check(parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--protocol", "nchan"}, o) &&
            o.protocol == Protocol::nchan && o.publishers == 8,
        "options: --protocol nchan, 8 publishers by default");
  check(!parse({"send", "--app-port", "9", "--clients", "10", "--messages", "1", "--protocol", "nchan", "--fanout", "5"}, o),
        "options: nchan has no fan-out line");
  check(!parse({"poll", "--port", "9", "--clients", "1", "--protocol", "redis"}, o), "options: an unknown protocol is refused");
}

}  // namespace

int main() {
  response_heads();
  poll_bodies();
  app_replies();
  json_skipping();
  histogram_buckets();
  sequences();
  lines();
  seq_spreads();
  fanout_rounds();
  sequential_targets();
  send_options();
  resumed_sequences();
  nchan_wire();
  std::printf("loadgen unit tests: %d passed, %d failed\n", g_passed, g_failed);
  return g_failed ? 1 : 0;
}
