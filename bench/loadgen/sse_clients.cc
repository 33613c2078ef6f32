#include "sse_clients.h"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client_fleet.h"
#include "clock.h"
#include "json_out.h"
#include "sse_events.h"

namespace loadgen {

namespace {

constexpr size_t kMaxHeadBytes = 16384;

struct SseClient {
  bool streaming = false;  // the stream's 200 head has been read: the server holds the stream
  int64_t cursor = 0;      // id of the last event received: Last-Event-ID of the next stream
  SseEventState sse;
};

// A stream is one request answered by a head and then events for good; when it ends, the client
// reconnects with Last-Event-ID after the fleet's backoff, as a browser's EventSource does.
class SseRun final : private FleetMode, private SseSink {
 public:
  explicit SseRun(const Options& options)
      : options_(options), clients_(options.clients), fleet_(options, "sse", *this) {}
  int run() { return fleet_.run(); }

 private:
  // FleetMode.
  void append_request(uint32_t index, std::string& out) override;
  void on_request_sent(uint32_t index) override { clients_[index].streaming = false; }
  void on_bytes(uint32_t index, std::string_view bytes, int64_t now) override;
  void on_drop(uint32_t index) override;
  uint64_t extra_errors() const override { return replaced_; }
  void add_error_fields(JsonOut& errors) const override { errors.number("replaced", replaced_); }
  void add_result_fields(JsonOut& out) const override { out.number("heartbeats", heartbeats_); }

  // Reads the stream bytes of client `index` (after its head).
  void read_stream(uint32_t index, std::string_view bytes, int64_t now);

  // SseSink, for the client being read (current_).
  void on_event(int64_t id, const PolledMessage& m) override;
  void on_replaced() override { replaced_++; }
  void on_comment() override { heartbeats_++; }
  void on_malformed() override { malformed_ = true; }

  const Options& options_;
  std::vector<SseClient> clients_;
  uint32_t current_ = 0;
  int64_t received_ns_ = 0;
  bool malformed_ = false;
  uint64_t heartbeats_ = 0;
  uint64_t replaced_ = 0;  // the server replaced a stream (another subscription of its id)
  ClientFleet fleet_;
};

void SseRun::append_request(uint32_t index, std::string& out) {
  SseClient& c = clients_[index];
  char request[320];
  int n = std::snprintf(request, sizeof request,
                        "GET /events?client=%s%u HTTP/1.1\r\nHost: %s:%u\r\nAccept: text/event-stream\r\n",
                        options_.prefix.c_str(), options_.first_client + index, options_.host.c_str(), options_.port);
  // Resume as a browser's EventSource does: the last event id as a header.
  if (c.cursor > 0) {
    n += std::snprintf(request + n, sizeof request - static_cast<size_t>(n), "Last-Event-ID: %lld\r\n",
                       static_cast<long long>(c.cursor));
  }
  n += std::snprintf(request + n, sizeof request - static_cast<size_t>(n), "\r\n");
  out.append(request, static_cast<size_t>(n));
  c.sse = SseEventState{};
}

void SseRun::on_bytes(uint32_t index, std::string_view bytes, int64_t now) {
  SseClient& c = clients_[index];
  if (!c.streaming) {
    const size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      std::string& pending = fleet_.pending(index);
      if (bytes.size() > kMaxHeadBytes) {
        fleet_.errors().bad_response++;
        fleet_.drop(index, true, now);
      } else if (pending.empty()) {
        pending.assign(bytes);
      }
      return;
    }
    fleet_.responses++;
    if (bytes.substr(0, 13) != "HTTP/1.1 200 ") {
      fleet_.errors().http_status++;
      fleet_.drop(index, true, now);
      return;
    }
    c.streaming = true;
    fleet_.held++;
    bytes.remove_prefix(end + 4);
  }
  read_stream(index, bytes, now);
}

void SseRun::read_stream(uint32_t index, std::string_view bytes, int64_t now) {
  SseClient& c = clients_[index];
  current_ = index;
  received_ns_ = monotonic_ns();
  malformed_ = false;
  const size_t used = read_sse(bytes, c.sse, *this);
  if (malformed_) {
    fleet_.errors().bad_response++;
    fleet_.drop(index, true, now);
    return;
  }
  // `bytes` may be a view of the pending buffer: copy the partial line out before replacing it.
  std::string rest(bytes.substr(used));
  fleet_.pending(index) = std::move(rest);
}

void SseRun::on_event(int64_t id, const PolledMessage& m) {
  SseClient& c = clients_[current_];
  if (id >= 0) {
    if (id <= c.cursor) fleet_.errors().bad_cursor++;
    else c.cursor = id;
  }
  fleet_.receive(current_, m.s, m.t, received_ns_);
}

void SseRun::on_drop(uint32_t index) {
  SseClient& c = clients_[index];
  if (!c.streaming) return;
  c.streaming = false;
  fleet_.held--;
}

}  // namespace

int run_sse_clients(const Options& options) {
  auto run = std::make_unique<SseRun>(options);
  return run->run();
}

}  // namespace loadgen
