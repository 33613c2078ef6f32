#include "churn_clients.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clock.h"
#include "cpu_time.h"
#include "event_loop.h"
#include "histogram.h"
#include "http_response.h"
#include "json_out.h"
#include "progress.h"
#include "stop_signal.h"
#include "tcp_connect.h"

namespace loadgen {

namespace {

// Once the duration is over, cycles still open get this long (after their hold, if any) to end.
constexpr int64_t kDrainNs = 30 * kNsPerSecond;

enum class Phase : uint8_t { free, connecting, waiting };

struct Cycle {
  int fd = -1;
  Phase phase = Phase::free;
  uint64_t number = 0;  // which cycle uses this slot (hold timers of earlier ones are stale)
  int64_t started_ns = 0;
  int64_t written_ns = 0;
  std::string pending;  // partial response
};

struct Failures {
  uint64_t connect = 0;       // connect() or the handshake failed
  uint64_t write = 0;         // the request could not be written at once
  uint64_t closed = 0;        // EOF or reset before the answer
  uint64_t http_status = 0;   // an answer other than 200
  uint64_t bad_response = 0;  // an answer we could not parse
  uint64_t total() const { return connect + write + closed + http_status + bad_response; }
};

class ChurnRun {
 public:
  explicit ChurnRun(const Options& options) : options_(options), slots_(options.concurrency) {
    for (uint32_t i = options.concurrency; i > 0; i--) free_.push_back(i - 1);
  }

  int run();

 private:
  int64_t due_of(uint64_t cycle) const {
    return start_ns_ + static_cast<int64_t>(static_cast<double>(cycle) * 1e9 / options_.rate);
  }
  void start_cycles(int64_t now);
  void on_event(uint32_t slot, int64_t now);
  void on_readable(uint32_t slot, int64_t now);
  void expire_holds(int64_t now);
  void finish(uint32_t slot);
  void emit_progress(int64_t now);
  std::string result_json(int64_t now) const;

  const Options& options_;
  std::vector<Cycle> slots_;
  std::vector<uint32_t> free_;
  std::deque<std::pair<int64_t, uint32_t>> holds_;  // (close time, slot): FIFO, one delay for all
  std::deque<uint64_t> hold_numbers_;               // cycle number of each entry in holds_
  EventLoop loop_;
  sockaddr_in destination_{};
  char read_buffer_[16384];

  uint64_t started_ = 0;
  uint64_t connected_ = 0;
  uint64_t answered_ = 0;
  uint64_t abandoned_ = 0;
  uint64_t delayed_starts_ = 0;  // cycles that started late because all slots were busy
  Failures failures_;
  Histogram connect_latency_;
  Histogram answer_latency_;
  int64_t start_ns_ = 0;
  int64_t end_of_starts_ns_ = 0;
};

int ChurnRun::run() {
  if (!loop_.ok()) {
    std::fprintf(stderr, "loadgen churn: epoll_create1 failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (!make_address(options_.host, options_.port, destination_)) {
    std::fprintf(stderr, "loadgen churn: --host %s is not an IPv4 address\n", options_.host.c_str());
    return 1;
  }
  start_ns_ = monotonic_ns();
  end_of_starts_ns_ = start_ns_ + seconds_to_ns(options_.duration);
  const int64_t hard_end = start_ns_ + seconds_to_ns(options_.max_seconds);
  const int64_t drain_end = end_of_starts_ns_ + static_cast<int64_t>(options_.hold_ms) * kNsPerMs + kDrainNs;
  ProgressClock progress(options_.progress_interval);
  std::vector<epoll_event> events(1024);
  int64_t now = start_ns_;
  while (now < hard_end && now < drain_end) {
    const bool starting = now < end_of_starts_ns_;
    if (!starting && free_.size() == slots_.size()) break;
    if (stop_requested()) break;  // a signal ends the run at once, open cycles included
    if (starting) start_cycles(now);
    expire_holds(now);
    if (progress.due(now)) emit_progress(now);
    int64_t timeout = 100 * kNsPerMs;
    if (starting && options_.rate > 0 && !free_.empty()) {
      const int64_t next = due_of(started_) - now;
      if (next < timeout) timeout = next;
    }
    if (!holds_.empty() && holds_.front().first - now < timeout) timeout = holds_.front().first - now;
    const int n = loop_.wait(events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0) {
      std::fprintf(stderr, "loadgen churn: epoll_pwait2 failed: %s\n", std::strerror(errno));
      break;
    }
    now = monotonic_ns();
    // The clock per event (a vDSO read): connect latencies of a large batch stay exact.
    for (int i = 0; i < n; i++) {
      on_event(static_cast<uint32_t>(events[static_cast<size_t>(i)].data.u64), monotonic_ns());
    }
  }
  now = monotonic_ns();
  emit_progress(now);
  const std::string result = result_json(now) + "\n";
  std::fwrite(result.data(), 1, result.size(), stdout);
  std::fflush(stdout);
  return 0;
}

void ChurnRun::start_cycles(int64_t now) {
  while (!free_.empty()) {
    if (options_.rate > 0) {
      const int64_t due = due_of(started_);
      if (due > now) break;
      if (now - due > 10 * kNsPerMs) delayed_starts_++;
    }
    const uint32_t slot = free_.back();
    free_.pop_back();
    Cycle& c = slots_[slot];
    c.number = started_++;
    c.started_ns = now;
    c.fd = start_connect(destination_,
                         source_octet_for(c.number, options_.src_base, options_.src_count));
    if (c.fd < 0) {
      failures_.connect++;
      free_.push_back(slot);
      continue;
    }
    c.phase = Phase::connecting;
    loop_.add(c.fd, EPOLLOUT, slot);
  }
}

void ChurnRun::on_event(uint32_t slot, int64_t now) {
  Cycle& c = slots_[slot];
  if (c.phase == Phase::free) return;
  if (c.phase == Phase::waiting) {
    on_readable(slot, now);
    return;
  }
  if (connect_result(c.fd) != 0) {
    failures_.connect++;
    finish(slot);
    return;
  }
  connected_++;
  connect_latency_.record(now - c.started_ns);
  // Every cycle polls for a client id of its own (h<first+number>, or reused ones with
  // --clients N), so the server creates and forgets that client each time.
  const uint64_t id = options_.clients ? options_.first_client + c.number % options_.clients
                                       : options_.first_client + c.number;
  char request[256];
  const int n = std::snprintf(request, sizeof request,
                              "GET /poll?client=%s%llu HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                              options_.prefix.c_str(), static_cast<unsigned long long>(id),
                              options_.host.c_str(), options_.port);
  // A fresh socket's send buffer takes a 100-byte request whole; a short write means trouble.
  if (write(c.fd, request, static_cast<size_t>(n)) != n) {
    failures_.write++;
    finish(slot);
    return;
  }
  c.written_ns = now;
  c.phase = Phase::waiting;
  loop_.modify(c.fd, EPOLLIN, slot);
  if (options_.hold_ms > 0) {
    holds_.emplace_back(now + static_cast<int64_t>(options_.hold_ms) * kNsPerMs, slot);
    hold_numbers_.push_back(c.number);
  }
}

void ChurnRun::on_readable(uint32_t slot, int64_t now) {
  Cycle& c = slots_[slot];
  const ssize_t n = read(c.fd, read_buffer_, sizeof read_buffer_);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    failures_.closed++;
    finish(slot);
    return;
  }
  c.pending.append(read_buffer_, static_cast<size_t>(n));
  ResponseHead head;
  const HeadParse parsed = parse_response_head(c.pending, head);
  if (parsed == HeadParse::error) {
    failures_.bad_response++;
    finish(slot);
    return;
  }
  if (parsed == HeadParse::partial || c.pending.size() < head.head_length + head.content_length) return;
  if (head.status != 200) {
    failures_.http_status++;
  } else {
    answered_++;
    answer_latency_.record(now - c.written_ns);
  }
  finish(slot);
}

void ChurnRun::expire_holds(int64_t now) {
  while (!holds_.empty() && holds_.front().first <= now) {
    const uint32_t slot = holds_.front().second;
    const uint64_t number = hold_numbers_.front();
    holds_.pop_front();
    hold_numbers_.pop_front();
    Cycle& c = slots_[slot];
    if (c.phase != Phase::waiting || c.number != number) continue;  // answered before the hold ended
    abandoned_++;
    finish(slot);
  }
}

void ChurnRun::finish(uint32_t slot) {
  Cycle& c = slots_[slot];
  if (c.fd >= 0) {
    loop_.remove(c.fd);
    close(c.fd);
    c.fd = -1;
  }
  c.phase = Phase::free;
  c.pending.clear();
  free_.push_back(slot);
}

void ChurnRun::emit_progress(int64_t now) {
  ProgressLine("churn", static_cast<double>(now - start_ns_) / 1e9)
      .add("started", started_)
      .add("connected", connected_)
      .add("answered", answered_)
      .add("abandoned", abandoned_)
      .add("failed", failures_.total())
      .add("open", slots_.size() - free_.size())
      .emit();
}

std::string ChurnRun::result_json(int64_t now) const {
  JsonOut failures;
  failures.number("connect", failures_.connect)
      .number("write", failures_.write)
      .number("closed", failures_.closed)
      .number("http_status", failures_.http_status)
      .number("bad_response", failures_.bad_response);
  std::string connect_latency;
  connect_latency_.append_json(connect_latency);
  std::string answer_latency;
  answer_latency_.append_json(answer_latency);
  JsonOut out;
  out.string("mode", "churn")
      .number("cpu_seconds", cpu_seconds())
      .number("rate", options_.rate)
      .number("concurrency", static_cast<uint64_t>(options_.concurrency))
      .number("hold_ms", static_cast<uint64_t>(options_.hold_ms))
      .number("started", started_)
      .number("connected", connected_)
      .number("answered", answered_)
      .number("abandoned", abandoned_)
      .number("still_open", static_cast<uint64_t>(slots_.size() - free_.size()))
      .number("delayed_starts", delayed_starts_)
      .number("start_ns", start_ns_)
      .number("end_of_starts_ns", end_of_starts_ns_)
      .number("end_ns", now)
      .raw("failures", failures.finish())
      .raw("connect_latency", connect_latency)
      .raw("answer_latency", answer_latency);
  return out.finish();
}

}  // namespace

int run_churn_clients(const Options& options) {
  auto run = std::make_unique<ChurnRun>(options);
  return run->run();
}

}  // namespace loadgen
