#include "poll_clients.h"

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
#include "http_response.h"
#include "json_out.h"
#include "nchan_http.h"
#include "poll_body.h"
#include "progress.h"
#include "sequence_check.h"
#include "stop_signal.h"
#include "tcp_connect.h"

namespace loadgen {

namespace {

// After a failure a client waits this long before it connects again, so a server that refuses
// everything is not hammered in a tight loop.
constexpr int64_t kBackoffNs = 250 * kNsPerMs;
constexpr size_t kReadSize = 65536;

// queued -> connecting -> writing -> waiting -> idle -> writing ... ; any failure -> backoff -> queued
enum class State : uint8_t { queued, connecting, writing, waiting, idle, backoff };

struct Client {
  int fd = -1;
  State state = State::queued;
  bool watching_out = false;  // EPOLLOUT is in the epoll interest (connecting, or a partial write)
  int64_t cursor = 0;     // since= of the next poll: the last cursor received
  NchanCursor nchan;      // --protocol nchan: the cursor is the last answer's Last-Modified/Etag
  int64_t last_seq = 0;   // last message sequence number seen (sequence_check.h)
  std::string pending;    // unsent request rest (writing) or partial response (waiting)
};

struct ErrorCounts {
  uint64_t connect = 0;        // connect() failed or the connection was refused
  uint64_t server_closed = 0;  // EOF or reset while a poll was outstanding
  uint64_t http_status = 0;    // a response other than 200
  uint64_t bad_response = 0;   // unparsable head or body, or bytes nobody asked for
  uint64_t bad_cursor = 0;     // cursor below the since= it answered
  uint64_t total() const { return connect + server_closed + http_status + bad_response + bad_cursor; }
};

class PollRun {
 public:
  explicit PollRun(const Options& options) : options_(options), clients_(options.clients) {}

  int run();

 private:
  void start_connects(int64_t now);
  void on_event(uint32_t index, uint32_t events, int64_t now);
  void send_poll(uint32_t index);
  void flush_request(uint32_t index);
  void on_readable(uint32_t index, int64_t now);
  // Handles one complete response; false if the connection must be dropped.
  bool handle_response(uint32_t index, const ResponseHead& head, std::string_view body, int64_t now);
  // Fills messages_ from a Nchan answer (one message per 200); false if it is not one.
  bool read_nchan_answer(Client& c, const ResponseHead& head, std::string_view body, bool& empty);
  void enter_waiting(Client& c);
  void leave_waiting(Client& c);
  // Closes the client's socket; it connects again at once (clean) or after the backoff.
  void drop(uint32_t index, bool backoff, int64_t now);
  void emit_progress(int64_t now);
  // The result so far, as one stdout line (SIGUSR2); latency starts afresh after it, so each
  // snapshot's histogram covers what arrived since the previous one.
  void emit_snapshot(int64_t now);
  std::string result_json(int64_t now, bool snapshot) const;

  const Options& options_;
  std::vector<Client> clients_;
  EventLoop loop_;
  sockaddr_in destination_{};
  std::string host_port_;  // Host header of Nchan polls
  std::deque<uint32_t> connect_queue_;
  std::deque<std::pair<int64_t, uint32_t>> backoff_queue_;  // (due time, client): FIFO, one delay
  std::vector<PolledMessage> messages_;                     // reused by every response
  char read_buffer_[kReadSize];

  int64_t next_connect_ns_ = 0;  // --connect-rate pacing
  uint32_t connecting_ = 0;
  uint32_t connected_ = 0;
  uint32_t held_ = 0;
  uint64_t polls_sent_ = 0;
  uint64_t responses_ = 0;
  uint64_t empty_responses_ = 0;
  uint64_t connects_ = 0;
  DeliveryCounts delivery_;
  ErrorCounts errors_;
  Histogram latency_;
  int64_t start_ns_ = 0;
  int64_t first_receive_ns_ = 0;
  int64_t last_receive_ns_ = 0;
};

int PollRun::run() {
  if (!loop_.ok()) {
    std::fprintf(stderr, "loadgen poll: epoll_create1 failed: %s\n", std::strerror(errno));
    return 1;
  }
  if (!make_address(options_.host, options_.port, destination_)) {
    std::fprintf(stderr, "loadgen poll: --host %s is not an IPv4 address\n", options_.host.c_str());
    return 1;
  }
  host_port_ = options_.host + ":" + std::to_string(options_.port);
  start_ns_ = monotonic_ns();
  const int64_t hard_end = start_ns_ + seconds_to_ns(options_.max_seconds);
  const int64_t end = options_.duration > 0 ? start_ns_ + seconds_to_ns(options_.duration) : hard_end;
  for (uint32_t i = 0; i < options_.clients; i++) connect_queue_.push_back(i);

  ProgressClock progress(options_.progress_interval);
  std::vector<epoll_event> events(1024);
  int64_t now = start_ns_;
  while (!stop_requested() && now < end && now < hard_end) {
    if (take_snapshot_request()) emit_snapshot(now);
    start_connects(now);
    if (progress.due(now)) emit_progress(now);
    int64_t timeout = 100 * kNsPerMs;  // wake-ups for the deadline, backoff and progress
    if (!backoff_queue_.empty() && backoff_queue_.front().first - now < timeout) {
      timeout = backoff_queue_.front().first - now;
    }
    if (!connect_queue_.empty() && connecting_ < options_.concurrency && next_connect_ns_ - now < timeout) {
      timeout = next_connect_ns_ - now;
    }
    const int n = loop_.wait(events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0) {
      std::fprintf(stderr, "loadgen poll: epoll_pwait2 failed: %s\n", std::strerror(errno));
      break;
    }
    now = monotonic_ns();
    for (int i = 0; i < n; i++) {
      on_event(static_cast<uint32_t>(events[static_cast<size_t>(i)].data.u64),
               events[static_cast<size_t>(i)].events, now);
    }
  }
  now = monotonic_ns();
  emit_progress(now);
  const std::string result = result_json(now, false) + "\n";
  std::fwrite(result.data(), 1, result.size(), stdout);
  std::fflush(stdout);
  // The process exits next and the kernel closes every socket; closing 9k of them one by one
  // here would only delay the result.
  return 0;
}

void PollRun::start_connects(int64_t now) {
  while (!backoff_queue_.empty() && backoff_queue_.front().first <= now) {
    const uint32_t index = backoff_queue_.front().second;
    backoff_queue_.pop_front();
    clients_[index].state = State::queued;
    connect_queue_.push_back(index);
  }
  const int64_t spacing = options_.connect_rate > 0 ? static_cast<int64_t>(1e9 / options_.connect_rate) : 0;
  // No burst credit beyond a few milliseconds: pacing exists to keep the accept queue short.
  if (next_connect_ns_ < now - 5 * kNsPerMs) next_connect_ns_ = now - 5 * kNsPerMs;
  while (connecting_ < options_.concurrency && !connect_queue_.empty()) {
    if (spacing > 0) {
      if (next_connect_ns_ > now) break;
      next_connect_ns_ += spacing;
    }
    const uint32_t index = connect_queue_.front();
    connect_queue_.pop_front();
    Client& c = clients_[index];
    const int fd = start_connect(destination_,
                                 source_octet_for(index, options_.src_base, options_.src_count));
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

void PollRun::on_event(uint32_t index, uint32_t events, int64_t now) {
  Client& c = clients_[index];
  if (c.fd < 0) return;
  if (c.state == State::connecting) {
    if (connect_result(c.fd) != 0) {
      errors_.connect++;
      drop(index, true, now);
      return;
    }
    connecting_--;
    connected_++;
    send_poll(index);
    return;
  }
  if (c.state == State::writing && (events & EPOLLOUT)) {
    flush_request(index);
    if (c.fd < 0) return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(index, now);
}

void PollRun::send_poll(uint32_t index) {
  Client& c = clients_[index];
  polls_sent_++;
  if (options_.protocol == Protocol::nchan) {
    c.pending.clear();
    append_nchan_poll(c.pending, options_.prefix, options_.first_client + index, host_port_, c.nchan, options_.channel);
    c.state = State::writing;
    flush_request(index);
    return;
  }
  char request[256];
  int n = 0;
  if (c.cursor > 0) {
    n = std::snprintf(request, sizeof request,
                      "GET /poll?client=%s%u&since=%lld HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                      options_.prefix.c_str(), options_.first_client + index,
                      static_cast<long long>(c.cursor), options_.host.c_str(), options_.port);
  } else {
    n = std::snprintf(request, sizeof request, "GET /poll?client=%s%u HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                      options_.prefix.c_str(), options_.first_client + index,
                      options_.host.c_str(), options_.port);
  }
  c.pending.assign(request, static_cast<size_t>(n));
  c.state = State::writing;
  flush_request(index);
}

void PollRun::flush_request(uint32_t index) {
  Client& c = clients_[index];
  const ssize_t n = write(c.fd, c.pending.data(), c.pending.size());
  if (n < 0 && errno != EAGAIN) {
    errors_.server_closed++;
    drop(index, true, monotonic_ns());
    return;
  }
  if (n > 0) c.pending.erase(0, static_cast<size_t>(n));
  // epoll_ctl only when the interest changes: a re-poll is one write, not a write and a MOD.
  const bool want_out = !c.pending.empty();
  if (want_out != c.watching_out) {
    loop_.modify(c.fd, want_out ? EPOLLIN | EPOLLOUT : EPOLLIN, index);
    c.watching_out = want_out;
  }
  // The whole request is out: the poll is now held by the server (or answered soon).
  if (!want_out) enter_waiting(c);
}

void PollRun::enter_waiting(Client& c) {
  c.state = State::waiting;
  held_++;
}

void PollRun::leave_waiting(Client& c) {
  if (c.state != State::waiting) return;
  held_--;
  c.state = State::idle;
}

void PollRun::on_readable(uint32_t index, int64_t now) {
  Client& c = clients_[index];
  const ssize_t n = read(c.fd, read_buffer_, sizeof read_buffer_);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    // EOF or reset. Between polls that is the server's keep-alive close; with a poll outstanding
    // it means the poll was dropped. Either way the client reconnects and polls with its cursor.
    errors_.server_closed++;
    drop(index, true, now);
    return;
  }
  if (c.state != State::waiting) {
    errors_.bad_response++;  // the server spoke before the request was complete
    drop(index, true, now);
    return;
  }
  std::string_view bytes(read_buffer_, static_cast<size_t>(n));
  if (!c.pending.empty()) {
    c.pending.append(bytes);
    bytes = c.pending;
  }
  ResponseHead head;
  const HeadParse parsed = parse_response_head(bytes, head);
  if (parsed == HeadParse::error) {
    errors_.bad_response++;
    drop(index, true, now);
    return;
  }
  if (parsed == HeadParse::partial || bytes.size() < head.head_length + head.content_length) {
    if (c.pending.empty()) c.pending.assign(bytes);
    return;
  }
  if (bytes.size() > head.head_length + head.content_length) {
    errors_.bad_response++;  // a second response nobody asked for
    drop(index, true, now);
    return;
  }
  const bool keep = handle_response(index, head, bytes.substr(head.head_length), now);
  c.pending.clear();
  if (!keep) return;
  if (head.close) {
    drop(index, false, now);
    return;
  }
  send_poll(index);
}

bool PollRun::handle_response(uint32_t index, const ResponseHead& head, std::string_view body,
                              int64_t now) {
  Client& c = clients_[index];
  leave_waiting(c);
  responses_++;
  if (options_.protocol == Protocol::nchan) {
    bool empty = false;
    if (!read_nchan_answer(c, head, body, empty)) {
      drop(index, true, now);
      return false;
    }
    if (empty) {
      empty_responses_++;
      return true;
    }
  } else {
    if (head.status != 200) {
      errors_.http_status++;
      drop(index, true, now);
      return false;
    }
    int64_t cursor = 0;
    if (!parse_poll_body(body, cursor, messages_)) {
      errors_.bad_response++;
      drop(index, true, now);
      return false;
    }
    if (cursor < c.cursor) errors_.bad_cursor++;
    c.cursor = cursor;
  }
  if (messages_.empty()) {
    empty_responses_++;
    return true;
  }
  // Read the clock per response, not once per epoll batch: a batch of a thousand responses
  // takes long enough to make the last ones look faster than they were.
  const int64_t received = monotonic_ns();
  if (first_receive_ns_ == 0) first_receive_ns_ = received;
  last_receive_ns_ = received;
  for (const PolledMessage& m : messages_) {
    check_sequence(c.last_seq, m.s, delivery_);
    if (m.t >= 0) latency_.record(received - m.t);
  }
  return true;
}

bool PollRun::read_nchan_answer(Client& c, const ResponseHead& head, std::string_view body,
                                bool& empty) {
  messages_.clear();
  switch (classify_nchan_poll_answer(head.status)) {
    case NchanAnswer::empty:
      empty = true;
      return true;
    case NchanAnswer::error:
      errors_.http_status++;
      return false;
    case NchanAnswer::message:
      break;
  }
  PolledMessage m;
  // Without both cursor headers the next poll would start from the channel's oldest message.
  if (!c.nchan.update(head)) {
    errors_.bad_cursor++;
    return false;
  }
  if (!parse_message_body(body, m)) {
    errors_.bad_response++;
    return false;
  }
  messages_.push_back(m);
  empty = false;
  return true;
}

void PollRun::drop(uint32_t index, bool backoff, int64_t now) {
  Client& c = clients_[index];
  if (c.state == State::connecting) {
    connecting_--;
  } else if (c.fd >= 0) {
    connected_--;
  }
  leave_waiting(c);
  if (c.fd >= 0) {
    loop_.remove(c.fd);
    close(c.fd);
    c.fd = -1;
  }
  c.watching_out = false;
  c.pending.clear();
  c.pending.shrink_to_fit();
  if (backoff) {
    c.state = State::backoff;
    backoff_queue_.emplace_back(now + kBackoffNs, index);
  } else {
    c.state = State::queued;
    connect_queue_.push_back(index);
  }
}

void PollRun::emit_progress(int64_t now) {
  ProgressLine("poll", static_cast<double>(now - start_ns_) / 1e9)
      .add("clients", options_.clients)
      .add("connected", connected_)
      .add("held", held_)
      .add("responses", responses_)
      .add("received", delivery_.received)
      .add("duplicated", delivery_.duplicated)
      .add("gaps", delivery_.gaps)
      .add("errors", errors_.total())
      .emit();
}

void PollRun::emit_snapshot(int64_t now) {
  const std::string line = result_json(now, true) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  latency_ = Histogram{};
}

std::string PollRun::result_json(int64_t now, bool snapshot) const {
  SeqSpread spread;
  for (const Client& c : clients_) spread.add(c.last_seq);
  JsonOut errors;
  errors.number("connect", errors_.connect)
      .number("server_closed", errors_.server_closed)
      .number("http_status", errors_.http_status)
      .number("bad_response", errors_.bad_response)
      .number("bad_cursor", errors_.bad_cursor);
  std::string latency;
  latency_.append_json(latency);
  JsonOut out;
  out.string("mode", "poll")
      .raw("snapshot", snapshot ? "true" : "false")
      .number("cpu_seconds", cpu_seconds())
      .number("clients", static_cast<uint64_t>(options_.clients))
      .number("first_client", static_cast<uint64_t>(options_.first_client))
      .number("connected", static_cast<uint64_t>(connected_))
      .number("held", static_cast<uint64_t>(held_))
      .number("connects", connects_)
      .number("polls", polls_sent_)
      .number("responses", responses_)
      .number("empty_responses", empty_responses_)
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

int run_poll_clients(const Options& options) {
  // ~100 KB of state besides the clients: keep it off the stack.
  auto run = std::make_unique<PollRun>(options);
  return run->run();
}

}  // namespace loadgen
