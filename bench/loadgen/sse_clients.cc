#include "sse_clients.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "clock.h"
#include "cpu_time.h"
#include "event_loop.h"
#include "histogram.h"
#include "json_out.h"
#include "progress.h"
#include "sequence_check.h"
#include "sse_events.h"
#include "stop_signal.h"
#include "tcp_connect.h"

namespace loadgen {

namespace {

constexpr int64_t kBackoffNs = 250 * kNsPerMs;
constexpr size_t kReadSize = 65536;
constexpr size_t kMaxHeadBytes = 16384;

// queued -> connecting -> writing -> head -> streaming; any failure -> backoff -> queued
enum class State : uint8_t { queued, connecting, writing, head, streaming, backoff };

struct Client {
  int fd = -1;
  State state = State::queued;
  bool watching_out = false;
  int64_t cursor = 0;    // id of the last event received: Last-Event-ID of the next stream
  int64_t last_seq = 0;  // sequence_check.h
  std::string pending;   // unsent request rest (writing), or a partial head or line
  SseEventState sse;
};

struct ErrorCounts {
  uint64_t connect = 0;
  uint64_t server_closed = 0;  // the stream ended (EOF or reset)
  uint64_t http_status = 0;
  uint64_t bad_response = 0;
  uint64_t bad_cursor = 0;     // an event id not above the last one
  uint64_t replaced = 0;       // the server replaced a stream (another subscription of its id)
  uint64_t total() const { return connect + server_closed + http_status + bad_response + bad_cursor + replaced; }
};

class SseRun final : private SseSink {
 public:
  explicit SseRun(const Options& options) : options_(options), clients_(options.clients) {}
  int run();

 private:
  void start_connects(int64_t now);
  void on_event(uint32_t index, uint32_t events, int64_t now);
  void send_request(uint32_t index);
  void flush_request(uint32_t index);
  void on_readable(uint32_t index, int64_t now);
  // Reads the stream bytes of client `index` (after its head); false if it was dropped.
  bool read_stream(uint32_t index, std::string_view bytes, int64_t now);
  void drop(uint32_t index, int64_t now);
  void emit_progress(int64_t now);
  std::string result_json(int64_t now, bool snapshot) const;

  // SseSink, for the client being read (current_).
  void on_event(int64_t id, const PolledMessage& m) override;
  void on_replaced() override { errors_.replaced++; }
  void on_comment() override { heartbeats_++; }
  void on_malformed() override { malformed_ = true; }

  const Options& options_;
  std::vector<Client> clients_;
  EventLoop loop_;
  sockaddr_in destination_{};
  std::deque<uint32_t> connect_queue_;
  std::deque<std::pair<int64_t, uint32_t>> backoff_queue_;
  char read_buffer_[kReadSize];
  Client* current_ = nullptr;
  int64_t received_ns_ = 0;
  bool malformed_ = false;

  int64_t next_connect_ns_ = 0;
  uint32_t connecting_ = 0;
  uint32_t connected_ = 0;
  uint32_t streaming_ = 0;
  uint64_t streams_opened_ = 0;
  uint64_t heads_ = 0;
  uint64_t heartbeats_ = 0;
  uint64_t connects_ = 0;
  DeliveryCounts delivery_;
  ErrorCounts errors_;
  Histogram latency_;
  int64_t start_ns_ = 0;
  int64_t first_receive_ns_ = 0;
  int64_t last_receive_ns_ = 0;
};

int SseRun::run() {
  if (!loop_.ok()) {
    std::fprintf(stderr, "loadgen sse: epoll_create1 failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (!make_address(options_.host, options_.port, destination_)) {
    std::fprintf(stderr, "loadgen sse: --host %s is not an IPv4 address\n", options_.host.c_str());
    return 1;
  }
  start_ns_ = monotonic_ns();
  const int64_t hard_end = start_ns_ + seconds_to_ns(options_.max_seconds);
  const int64_t end = options_.duration > 0 ? start_ns_ + seconds_to_ns(options_.duration) : hard_end;
  for (uint32_t i = 0; i < options_.clients; i++) connect_queue_.push_back(i);
  ProgressClock progress(options_.progress_interval);
  std::vector<epoll_event> events(1024);
  int64_t now = start_ns_;
  while (!stop_requested() && now < end && now < hard_end) {
    if (take_snapshot_request()) {
      const std::string line = result_json(now, true) + "\n";
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fflush(stdout);
      latency_ = Histogram{};
    }
    start_connects(now);
    if (progress.due(now)) emit_progress(now);
    int64_t timeout = 100 * kNsPerMs;
    if (!backoff_queue_.empty() && backoff_queue_.front().first - now < timeout) timeout = backoff_queue_.front().first - now;
    if (!connect_queue_.empty() && connecting_ < options_.concurrency && next_connect_ns_ - now < timeout) {
      timeout = next_connect_ns_ - now;
    }
    const int n = loop_.wait(events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0) {
      std::fprintf(stderr, "loadgen sse: epoll_pwait2 failed: %s\n", std::strerror(errno));
      break;
    }
    now = monotonic_ns();
    for (int i = 0; i < n; i++) {
      on_event(static_cast<uint32_t>(events[static_cast<size_t>(i)].data.u64), events[static_cast<size_t>(i)].events, now);
    }
  }
  now = monotonic_ns();
  emit_progress(now);
  const std::string result = result_json(now, false) + "\n";
  std::fwrite(result.data(), 1, result.size(), stdout);
  std::fflush(stdout);
  return 0;
}

void SseRun::start_connects(int64_t now) {
  while (!backoff_queue_.empty() && backoff_queue_.front().first <= now) {
    const uint32_t index = backoff_queue_.front().second;
    backoff_queue_.pop_front();
    clients_[index].state = State::queued;
    connect_queue_.push_back(index);
  }
  const int64_t spacing = options_.connect_rate > 0 ? static_cast<int64_t>(1e9 / options_.connect_rate) : 0;
  if (next_connect_ns_ < now - 5 * kNsPerMs) next_connect_ns_ = now - 5 * kNsPerMs;
  while (connecting_ < options_.concurrency && !connect_queue_.empty()) {
    if (spacing > 0) {
      if (next_connect_ns_ > now) break;
      next_connect_ns_ += spacing;
    }
    const uint32_t index = connect_queue_.front();
    connect_queue_.pop_front();
    Client& c = clients_[index];
    const int fd = start_connect(destination_, source_octet_for(index, options_.src_base, options_.src_count));
    connects_++;
    if (fd < 0) {
      errors_.connect++;
      c.state = State::backoff;
      backoff_queue_.emplace_back(now + kBackoffNs, index);
      continue;
    }
    c.fd = fd;
    c.state = State::connecting;
    c.watching_out = true;
    connecting_++;
    loop_.add(fd, EPOLLOUT, index);
  }
}

void SseRun::on_event(uint32_t index, uint32_t events, int64_t now) {
  Client& c = clients_[index];
  if (c.fd < 0) return;
  if (c.state == State::connecting) {
    if (connect_result(c.fd) != 0) {
      errors_.connect++;
      drop(index, now);
      return;
    }
    connecting_--;
    connected_++;
    send_request(index);
    return;
  }
  if (c.state == State::writing && (events & EPOLLOUT)) {
    flush_request(index);
    if (c.fd < 0) return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(index, now);
}

void SseRun::send_request(uint32_t index) {
  Client& c = clients_[index];
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
  streams_opened_++;
  c.pending.assign(request, static_cast<size_t>(n));
  c.sse = SseEventState{};
  c.state = State::writing;
  flush_request(index);
}

void SseRun::flush_request(uint32_t index) {
  Client& c = clients_[index];
  const ssize_t n = write(c.fd, c.pending.data(), c.pending.size());
  if (n < 0 && errno != EAGAIN) {
    errors_.server_closed++;
    drop(index, monotonic_ns());
    return;
  }
  if (n > 0) c.pending.erase(0, static_cast<size_t>(n));
  const bool want_out = !c.pending.empty();
  if (want_out != c.watching_out) {
    loop_.modify(c.fd, want_out ? EPOLLIN | EPOLLOUT : EPOLLIN, index);
    c.watching_out = want_out;
  }
  if (!want_out) c.state = State::head;
}

void SseRun::on_readable(uint32_t index, int64_t now) {
  Client& c = clients_[index];
  const ssize_t n = read(c.fd, read_buffer_, sizeof read_buffer_);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    // The stream ended: reconnect with Last-Event-ID, as an EventSource does.
    errors_.server_closed++;
    drop(index, now);
    return;
  }
  if (c.state != State::head && c.state != State::streaming) {
    errors_.bad_response++;
    drop(index, now);
    return;
  }
  std::string_view bytes(read_buffer_, static_cast<size_t>(n));
  if (!c.pending.empty()) {
    c.pending.append(bytes);
    bytes = c.pending;
  }
  if (c.state == State::head) {
    const size_t end = bytes.find("\r\n\r\n");
    if (end == std::string_view::npos) {
      if (bytes.size() > kMaxHeadBytes) {
        errors_.bad_response++;
        drop(index, now);
      } else if (c.pending.empty()) {
        c.pending.assign(bytes);
      }
      return;
    }
    heads_++;
    if (bytes.substr(0, 13) != "HTTP/1.1 200 ") {
      errors_.http_status++;
      drop(index, now);
      return;
    }
    c.state = State::streaming;
    streaming_++;
    bytes.remove_prefix(end + 4);
  }
  if (!read_stream(index, bytes, now)) return;
}

bool SseRun::read_stream(uint32_t index, std::string_view bytes, int64_t now) {
  Client& c = clients_[index];
  current_ = &c;
  received_ns_ = monotonic_ns();
  malformed_ = false;
  const size_t used = read_sse(bytes, c.sse, *this);
  current_ = nullptr;
  if (malformed_) {
    errors_.bad_response++;
    drop(index, now);
    return false;
  }
  // `bytes` may be a view of c.pending: copy the partial line out before replacing it.
  std::string rest(bytes.substr(used));
  c.pending = std::move(rest);
  return true;
}

void SseRun::on_event(int64_t id, const PolledMessage& m) {
  Client& c = *current_;
  if (id >= 0) {
    if (id <= c.cursor) errors_.bad_cursor++;
    else c.cursor = id;
  }
  if (first_receive_ns_ == 0) first_receive_ns_ = received_ns_;
  last_receive_ns_ = received_ns_;
  check_sequence(c.last_seq, m.s, delivery_);
  if (m.t >= 0) latency_.record(received_ns_ - m.t);
}

void SseRun::drop(uint32_t index, int64_t now) {
  Client& c = clients_[index];
  if (c.state == State::connecting) {
    connecting_--;
  } else if (c.fd >= 0) {
    connected_--;
  }
  if (c.state == State::streaming) streaming_--;
  if (c.fd >= 0) {
    loop_.remove(c.fd);
    close(c.fd);
    c.fd = -1;
  }
  c.watching_out = false;
  c.pending.clear();
  c.pending.shrink_to_fit();
  c.state = State::backoff;
  backoff_queue_.emplace_back(now + kBackoffNs, index);
}

void SseRun::emit_progress(int64_t now) {
  ProgressLine("sse", static_cast<double>(now - start_ns_) / 1e9)
      .add("clients", options_.clients)
      .add("connected", connected_)
      .add("held", streaming_)
      .add("responses", heads_)
      .add("received", delivery_.received)
      .add("duplicated", delivery_.duplicated)
      .add("gaps", delivery_.gaps)
      .add("errors", errors_.total())
      .emit();
}

std::string SseRun::result_json(int64_t now, bool snapshot) const {
  SeqSpread spread;
  for (const Client& c : clients_) spread.add(c.last_seq);
  JsonOut errors;
  errors.number("connect", errors_.connect)
      .number("server_closed", errors_.server_closed)
      .number("http_status", errors_.http_status)
      .number("bad_response", errors_.bad_response)
      .number("bad_cursor", errors_.bad_cursor)
      .number("replaced", errors_.replaced);
  std::string latency;
  latency_.append_json(latency);
  // The keys of the poll mode's result (the runner reads both alike): a stream is a "poll" that
  // is held for good, and its head the "response".
  JsonOut out;
  out.string("mode", "sse")
      .raw("snapshot", snapshot ? "true" : "false")
      .number("cpu_seconds", cpu_seconds())
      .number("clients", static_cast<uint64_t>(options_.clients))
      .number("first_client", static_cast<uint64_t>(options_.first_client))
      .number("connected", static_cast<uint64_t>(connected_))
      .number("held", static_cast<uint64_t>(streaming_))
      .number("connects", connects_)
      .number("polls", streams_opened_)
      .number("responses", heads_)
      .number("empty_responses", static_cast<uint64_t>(0))
      .number("heartbeats", heartbeats_)
      .number("received", delivery_.received)
      .number("duplicated", delivery_.duplicated)
      .number("gaps", delivery_.gaps)
      .number("foreign", delivery_.foreign)
      .number("start_ns", start_ns_)
      .number("end_ns", now)
      .number("first_receive_ns", first_receive_ns_)
      .number("last_receive_ns", last_receive_ns_)
      .number("seq_min", spread.min)
      .number("seq_min_clients", spread.at_min)
      .number("seq_max", spread.max)
      .raw("errors", errors.finish())
      .raw("latency", latency);
  return out.finish();
}

}  // namespace

int run_sse_clients(const Options& options) {
  auto run = std::make_unique<SseRun>(options);
  return run->run();
}

}  // namespace loadgen
