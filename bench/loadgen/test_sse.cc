// Unit tests of the SSE clients' stream reader (sse_events.h): `make -C bench/loadgen test`.
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

#include "sse_events.h"

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

struct Recorder final : SseSink {
  std::vector<std::pair<int64_t, PolledMessage>> events;
  int replaced = 0, comments = 0, malformed = 0;
  void on_event(int64_t id, const PolledMessage& m) override { events.emplace_back(id, m); }
  void on_replaced() override { replaced++; }
  void on_comment() override { comments++; }
  void on_malformed() override { malformed++; }
};

// Feeds `stream` in pieces of `step` bytes, keeping partial lines as the client does.
Recorder feed(std::string_view stream, size_t step) {
  Recorder r;
  SseEventState state;
  std::string pending;
  for (size_t at = 0; at < stream.size(); at += step) {
    pending.append(stream.substr(at, step));
    const size_t used = read_sse(pending, state, r);
    pending.erase(0, used);
  }
  return r;
}

void streams() {
  const std::string_view stream =
      "retry: 2000\n\n"
      "id: 17\ndata: {\"t\":5,\"s\":1}\n\n"
      ":\n"
      "id: 1796228403046000\ndata: {\"s\":2,\"t\":9,\"x\":[1,{\"y\":\"z\"}]}\n\n"
      "id: 99\ndata: \"not ours\"\n\n"
      "event: replaced\ndata: {\"error\":\"replaced\",\"message\":\"m\"}\n\n";
  for (size_t step : {size_t{1}, size_t{3}, size_t{7}, stream.size()}) {
    const Recorder r = feed(stream, step);
    const std::string at = " (pieces of " + std::to_string(step) + ")";
    check(r.events.size() == 3, "three message events" + at);
    if (r.events.size() == 3) {
      check(r.events[0].first == 17 && r.events[0].second.t == 5 && r.events[0].second.s == 1, "first event" + at);
      check(r.events[1].first == 1796228403046000 && r.events[1].second.s == 2 && r.events[1].second.t == 9, "second event, unknown keys skipped" + at);
      check(r.events[2].first == 99 && r.events[2].second.s == -1, "foreign data is t = s = -1" + at);
    }
    check(r.comments == 1, "the heartbeat comment" + at);
    check(r.replaced == 1, "the replaced event" + at);
    check(r.malformed == 0, "nothing malformed" + at);
  }
  check(feed("id: x1\n\n", 4).malformed == 1, "a bad id is malformed");
  check(feed("data: {\"s\":\n\n", 4).malformed == 1, "broken JSON is malformed");
  check(feed("bogus: 1\n", 4).malformed == 1, "an unknown field is malformed");
  check(feed("id: 5\ndata: {\"s\":1}\n", 100).events.empty(), "no event before its blank line");
}

}  // namespace

int main() {
  streams();
  std::printf("%d passed, %d failed\n", g_passed, g_failed);
  return g_failed == 0 ? 0 : 1;
}
