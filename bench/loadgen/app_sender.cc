#include "app_sender.h"

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "app_reply.h"
#include "clock.h"
#include "cpu_time.h"
#include "event_loop.h"
#include "histogram.h"
#include "json_out.h"
#include "http_response.h"
#include "message_lines.h"
#include "nchan_http.h"
#include "progress.h"
#include "stop_signal.h"
#include "tcp_connect.h"

namespace loadgen {

namespace {

// How long to wait for replies still in flight after a stop signal. When sending is over by
// itself the sender waits for every reply, as long as they keep coming (--stall-seconds): the
// last lines of a big fan-out round may be answered many seconds after they were written.
constexpr int64_t kDrainNs = 5 * kNsPerSecond;

// xorshift64*: deterministic, so two runs (and the two servers of one bench) see the same
// sequence of target clients.
class Random {
 public:
  explicit Random(uint64_t seed) : state_(seed ? seed : 1) {}
  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1DULL;
  }

 private:
  uint64_t state_;
};

struct InFlight {
  uint32_t deliveries;  // clients the line addresses
  int64_t written_ns;
};

// One connection to the server: MegaComet's app port (one, JSON lines) or Nchan's publisher
// (--publishers of them, pipelined HTTP). Replies come back in request order on each.
struct Connection {
  int fd = -1;
  bool writing = false;  // EPOLLOUT is in the epoll interest
  std::string out;
  size_t out_offset = 0;
  std::string in;  // a partial reply line, or unparsed HTTP responses
  std::deque<InFlight> in_flight;
};

class SendRun {
 public:
  explicit SendRun(const Options& options)
      : options_(options),
        next_seq_(options.fanout || !options.publish.empty() ? 0 : options.clients, 0),
        random_(0x9E3779B97F4A7C15ULL ^ options.first_client) {}

  int run();

 private:
  // Appends every line that is due and fits in the window. Returns whether any was added.
  bool generate(int64_t now);
  // Nanoseconds until the next message is due (rate mode), or -1 if none is waiting on time.
  int64_t time_to_next(int64_t now) const;
  // When the next message (or, for paced fan-out, the next line) is due in rate mode.
  int64_t due_ns() const;
  // Paced fan-out: --rate counts recipients per second and a round's lines leave one by one,
  // so a round of a million recipients does not land on the server at once.
  bool paced_fanout() const { return options_.fanout != 0 && options_.rate > 0; }
  bool connect_all(int64_t hard_end);
  bool flush(Connection& c);
  // Flushes every connection with output and sets each one's EPOLLOUT interest.
  bool flush_all();
  bool on_readable(Connection& c, int64_t now);
  // Splits lines (MegaComet) or HTTP responses (Nchan) off c.in.
  void take_line_replies(Connection& c, std::string_view bytes, int64_t now);
  bool take_http_replies(Connection& c, int64_t now);
  void on_reply(Connection& c, std::string_view line, int64_t now);
  void on_http_reply(Connection& c, int status, int64_t now);
  // Pops the oldest request of `c` and counts its reply: ok, or refused with `code`.
  void count_reply(Connection& c, bool ok, std::string_view code, int64_t now);
  // Appends message `seq` for client `index` to its connection.
  void append_message(uint32_t index, int64_t t, int64_t seq, int64_t now);
  void emit_progress(int64_t now);
  std::string result_json(int64_t now) const;

  const Options& options_;
  // Messages written per second, first write to last (with --rate: the rate the clock kept).
  double achieved_rate() const {
    return generated_ > 1 && last_write_ns_ > first_write_ns_
               ? static_cast<double>(generated_ - 1) * 1e9 / static_cast<double>(last_write_ns_ - first_write_ns_)
               : 0;
  }

  EventLoop loop_;
  sockaddr_in destination_{};
  std::vector<Connection> connections_;
  size_t in_flight_ = 0;  // over every connection
  // Requests in flight at most. With --rate the clock paces the sender, not the replies: the
  // window then only bounds memory when the server stalls (at least 2 s of messages).
  size_t window_ = 0;
  std::string host_port_;  // Host header of Nchan publishes
  std::vector<uint32_t> next_seq_;
  std::vector<ClientRange> fanout_ranges_;  // the lines of one round (fanout_ranges())
  std::vector<std::string> fanout_groups_;  // their quoted id lists, built once
  Random random_;

  uint64_t generated_ = 0;  // messages (or rounds) generated
  size_t round_line_ = 0;              // paced fan-out: the next line of the current round
  uint64_t recipients_generated_ = 0;  // paced fan-out: recipients of the lines generated
  uint64_t lines_sent_ = 0;
  uint64_t lines_acked_ = 0;
  uint64_t deliveries_ok_ = 0;
  uint64_t deliveries_refused_ = 0;
  uint64_t bad_replies_ = 0;
  std::map<std::string, uint64_t, std::less<>> refused_by_code_;
  Histogram ack_latency_;
  int64_t start_ns_ = 0;
  int64_t generate_end_ns_ = 0;
  int64_t first_write_ns_ = 0;
  int64_t last_write_ns_ = 0;
  int64_t last_ack_ns_ = 0;
  int64_t max_lag_ns_ = 0;
  int64_t last_due_ns_ = 0;  // --rate: when the last generated message was due
  bool closed_by_server_ = false;
};

int SendRun::run() {
  if (!loop_.ok()) {
    std::fprintf(stderr, "loadgen send: epoll_create1 failed: %s\n", std::strerror(errno));
    return 1;
  }
  sockaddr_in destination{};
  if (!make_address(options_.app_host, options_.app_port, destination)) {
    std::fprintf(stderr, "loadgen send: --app-host %s is not an IPv4 address\n",
                 options_.app_host.c_str());
    return 1;
  }
  if (options_.fanout) {
    fanout_ranges_ = fanout_ranges(options_.clients, options_.fanout);
    for (const ClientRange& r : fanout_ranges_) {
      fanout_groups_.push_back(quoted_ids(options_.prefix, options_.first_client + r.first, r.count));
    }
  }
  start_ns_ = monotonic_ns();
  const int64_t hard_end = start_ns_ + seconds_to_ns(options_.max_seconds);
  generate_end_ns_ = options_.duration > 0 ? start_ns_ + seconds_to_ns(options_.duration) : hard_end;

  destination_ = destination;
  const size_t count = options_.protocol == Protocol::nchan ? options_.publishers : 1;
  connections_.resize(count);
  window_ = options_.window;
  if (options_.rate > 0) window_ = std::max<size_t>(window_, static_cast<size_t>(options_.rate * 2));
  host_port_ = options_.app_host + ":" + std::to_string(options_.app_port);
  if (!connect_all(hard_end)) return 1;
  // The rate schedule starts now, not before the connect.
  start_ns_ = monotonic_ns();
  if (options_.duration > 0) generate_end_ns_ = start_ns_ + seconds_to_ns(options_.duration);

  ProgressClock progress(options_.progress_interval);
  const int64_t stall_ns = seconds_to_ns(options_.stall_seconds);
  int64_t now = start_ns_;
  int64_t drain_end = 0;
  std::vector<epoll_event> events(connections_.size());
  while (now < hard_end && !closed_by_server_) {
    int64_t oldest = now;
    for (const Connection& c : connections_) {
      if (!c.in_flight.empty()) oldest = std::min(oldest, c.in_flight.front().written_ns);
    }
    if (in_flight_ > 0 && now - std::max(last_ack_ns_, oldest) > stall_ns) {
      std::fprintf(stderr, "loadgen send: no reply for %g s with %zu requests unanswered: giving up\n",
                   options_.stall_seconds, in_flight_);
      break;
    }
    const bool sending = !stop_requested() && generated_ < options_.messages && now < generate_end_ns_;
    if (!sending) {
      if (in_flight_ == 0) break;
      if (stop_requested()) {
        if (drain_end == 0) drain_end = now + kDrainNs;
        if (now >= drain_end) break;
      }
    }
    if (sending && generate(now) && !flush_all()) break;
    if (progress.due(now)) emit_progress(now);
    int64_t timeout = 100 * kNsPerMs;
    const int64_t next = sending ? time_to_next(now) : -1;
    if (next >= 0 && next < timeout) timeout = next;
    const int n = loop_.wait(events.data(), static_cast<int>(events.size()), timeout);
    if (n < 0) {
      std::fprintf(stderr, "loadgen send: epoll_pwait2 failed: %s\n", std::strerror(errno));
      break;
    }
    now = monotonic_ns();
    bool failed = false;
    for (int i = 0; i < n && !failed; i++) {
      Connection& c = connections_[events[static_cast<size_t>(i)].data.u64];
      const uint32_t ev = events[static_cast<size_t>(i)].events;
      if ((ev & EPOLLOUT) && !flush(c)) failed = true;
      if (!failed && (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !on_readable(c, now)) failed = true;
    }
    if (failed || !flush_all()) break;
  }
  now = monotonic_ns();
  emit_progress(now);
  const std::string result = result_json(now) + "\n";
  std::fwrite(result.data(), 1, result.size(), stdout);
  std::fflush(stdout);
  for (Connection& c : connections_) {
    if (c.fd >= 0) close(c.fd);
  }
  return 0;
}

bool SendRun::connect_all(int64_t hard_end) {
  for (size_t i = 0; i < connections_.size(); i++) {
    Connection& c = connections_[i];
    c.fd = start_connect(destination_, 0);
    if (c.fd < 0) {
      std::fprintf(stderr, "loadgen send: connect to %s:%u failed: %s\n", options_.app_host.c_str(),
                   options_.app_port, std::strerror(errno));
      return false;
    }
    loop_.add(c.fd, EPOLLOUT, i);
  }
  size_t connected = 0;
  std::vector<epoll_event> events(connections_.size());
  while (connected < connections_.size()) {
    const int n = loop_.wait(events.data(), static_cast<int>(events.size()), 100 * kNsPerMs);
    if (stop_requested() || monotonic_ns() >= hard_end || n < 0) return false;
    for (int i = 0; i < n; i++) {
      Connection& c = connections_[events[static_cast<size_t>(i)].data.u64];
      const int error = connect_result(c.fd);
      if (error != 0) {
        std::fprintf(stderr, "loadgen send: connect to %s:%u failed: %s\n", options_.app_host.c_str(),
                     options_.app_port, std::strerror(error));
        return false;
      }
      loop_.modify(c.fd, EPOLLIN, events[static_cast<size_t>(i)].data.u64);
      connected++;
    }
  }
  return true;
}

int64_t SendRun::time_to_next(int64_t now) const {
  if (options_.rate <= 0 || generated_ >= options_.messages) return -1;
  // With the window full only a reply can let the next message out: wait for that, not the clock.
  if (in_flight_ > 0 && in_flight_ >= window_) return -1;
  const int64_t due = due_ns();
  return due > now ? due - now : 0;
}

int64_t SendRun::due_ns() const {
  const uint64_t done = paced_fanout() ? recipients_generated_ : generated_;
  return start_ns_ + static_cast<int64_t>(static_cast<double>(done) * 1e9 / options_.rate);
}

bool SendRun::generate(int64_t now) {
  const uint32_t lines_per_message = options_.fanout ? static_cast<uint32_t>(fanout_groups_.size()) : 1;
  bool added = false;
  while (generated_ < options_.messages && paced_fanout()) {
    if (in_flight_ > 0 && in_flight_ >= window_) break;
    const int64_t due = due_ns();
    if (due > now) break;
    last_due_ns_ = due;
    if (now - due > max_lag_ns_) max_lag_ns_ = now - due;
    const int64_t seq = static_cast<int64_t>(options_.first_seq) + static_cast<int64_t>(generated_) + 1;
    Connection& c = connections_[0];
    append_fanout_line(c.out, fanout_groups_[round_line_], due, seq);
    c.in_flight.push_back(InFlight{fanout_ranges_[round_line_].count, now});
    in_flight_++;
    recipients_generated_ += fanout_ranges_[round_line_].count;
    lines_sent_++;
    if (++round_line_ == fanout_groups_.size()) {
      round_line_ = 0;
      generated_++;
    }
    added = true;
  }
  while (generated_ < options_.messages && !paced_fanout()) {
    // A round larger than the window goes out alone.
    if (in_flight_ > 0 && in_flight_ + lines_per_message > window_) break;
    int64_t t = now;
    if (options_.rate > 0) {
      // The data carries the time the message was due, not when it was written: if the window
      // or the socket held it back, that wait is part of the latency the pollers measure
      // (no coordinated omission).
      const auto due =
          start_ns_ + static_cast<int64_t>(static_cast<double>(generated_) * 1e9 / options_.rate);
      if (due > now) break;
      t = due;
      last_due_ns_ = due;
      if (now - due > max_lag_ns_) max_lag_ns_ = now - due;
    }
    const auto first_seq = static_cast<int64_t>(options_.first_seq);
    if (!options_.publish.empty()) {
      Connection& c = connections_[0];
      const int64_t seq = first_seq + static_cast<int64_t>(generated_) + 1;
      if (options_.protocol == Protocol::nchan) {
        append_nchan_publish(c.out, options_.prefix, 0, host_port_, t, seq, options_.publish);
      } else {
        append_publish_line(c.out, options_.publish, t, seq);
      }
      c.in_flight.push_back(InFlight{options_.clients, now});
      in_flight_++;
    } else if (options_.fanout) {
      const int64_t seq = first_seq + static_cast<int64_t>(generated_) + 1;
      Connection& c = connections_[0];
      for (size_t g = 0; g < fanout_groups_.size(); g++) {
        append_fanout_line(c.out, fanout_groups_[g], t, seq);
        c.in_flight.push_back(InFlight{fanout_ranges_[g].count, now});
        in_flight_++;
      }
    } else {
      const uint32_t index = options_.order == SendOrder::sequential
                                 ? sequential_client(generated_, options_.clients)
                                 : static_cast<uint32_t>(random_.next() % options_.clients);
      append_message(index, t, first_seq + ++next_seq_[index], now);
    }
    lines_sent_ += lines_per_message;
    generated_++;
    added = true;
  }
  if (added) {
    if (first_write_ns_ == 0) first_write_ns_ = now;
    last_write_ns_ = now;
  }
  return added;
}

void SendRun::append_message(uint32_t index, int64_t t, int64_t seq, int64_t now) {
  const uint32_t id = options_.first_client + index;
  if (options_.protocol == Protocol::nchan) {
    Connection& c = connections_[index % connections_.size()];
    append_nchan_publish(c.out, options_.prefix, id, host_port_, t, seq);
    c.in_flight.push_back(InFlight{1, now});
  } else {
    Connection& c = connections_[0];
    append_send_line(c.out, options_.prefix, id, t, seq);
    c.in_flight.push_back(InFlight{1, now});
  }
  in_flight_++;
}

bool SendRun::flush(Connection& c) {
  while (c.out_offset < c.out.size()) {
    const ssize_t n = write(c.fd, c.out.data() + c.out_offset, c.out.size() - c.out_offset);
    if (n < 0) {
      if (errno == EAGAIN) return true;
      std::fprintf(stderr, "loadgen send: write to the server failed: %s\n", std::strerror(errno));
      closed_by_server_ = true;
      return false;
    }
    c.out_offset += static_cast<size_t>(n);
  }
  c.out.clear();
  c.out_offset = 0;
  return true;
}

bool SendRun::flush_all() {
  for (size_t i = 0; i < connections_.size(); i++) {
    Connection& c = connections_[i];
    if (c.out_offset < c.out.size() && !flush(c)) return false;
    const bool want_write = c.out_offset < c.out.size();
    if (want_write != c.writing) {
      loop_.modify(c.fd, want_write ? EPOLLIN | EPOLLOUT : EPOLLIN, i);
      c.writing = want_write;
    }
  }
  return true;
}

bool SendRun::on_readable(Connection& c, int64_t now) {
  char buffer[65536];
  const ssize_t n = read(c.fd, buffer, sizeof buffer);
  if (n < 0 && errno == EAGAIN) return true;
  if (n <= 0) {
    std::fprintf(stderr, "loadgen send: the server closed a connection with %zu requests unanswered\n",
                 c.in_flight.size());
    closed_by_server_ = true;
    return false;
  }
  const std::string_view bytes(buffer, static_cast<size_t>(n));
  if (options_.protocol == Protocol::nchan) {
    c.in.append(bytes);
    return take_http_replies(c, now);
  }
  take_line_replies(c, bytes, now);
  return true;
}

void SendRun::take_line_replies(Connection& c, std::string_view bytes, int64_t now) {
  // Whole lines straight from the buffer; only a trailing partial line is copied.
  size_t start = 0;
  if (!c.in.empty()) {
    const size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      c.in.append(bytes);
      return;
    }
    c.in.append(bytes.substr(0, newline));
    on_reply(c, c.in, now);
    c.in.clear();
    start = newline + 1;
  }
  for (;;) {
    const size_t newline = bytes.find('\n', start);
    if (newline == std::string_view::npos) break;
    on_reply(c, bytes.substr(start, newline - start), now);
    start = newline + 1;
  }
  c.in.append(bytes.substr(start));
}

bool SendRun::take_http_replies(Connection& c, int64_t now) {
  size_t used = 0;
  for (;;) {
    const std::string_view rest = std::string_view(c.in).substr(used);
    ResponseHead head;
    const HeadParse parsed = parse_response_head(rest, head);
    if (parsed == HeadParse::partial) break;
    if (parsed == HeadParse::error) {
      std::fprintf(stderr, "loadgen send: the publisher's answer is not HTTP/1.1 with a Content-Length\n");
      closed_by_server_ = true;
      return false;
    }
    if (rest.size() < head.head_length + head.content_length) break;
    used += head.head_length + head.content_length;
    on_http_reply(c, head.status, now);
    if (head.close) {
      std::fprintf(stderr, "loadgen send: the publisher closed its keep-alive connection (raise keepalive_requests)\n");
      closed_by_server_ = true;
      return false;
    }
  }
  c.in.erase(0, used);
  return true;
}

void SendRun::on_http_reply(Connection& c, int status, int64_t now) {
  if (nchan_published(status)) {
    count_reply(c, true, {}, now);
    return;
  }
  char code[16];
  std::snprintf(code, sizeof code, "http_%d", status);
  count_reply(c, false, code, now);
}

void SendRun::on_reply(Connection& c, std::string_view line, int64_t now) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  AppReply reply;
  if (!parse_app_reply(line, reply)) {
    if (!c.in_flight.empty()) bad_replies_++;
    count_reply(c, false, {}, now);
    return;
  }
  count_reply(c, reply.ok, reply.error, now);
}

void SendRun::count_reply(Connection& c, bool ok, std::string_view code, int64_t now) {
  if (c.in_flight.empty()) {
    bad_replies_++;  // a reply to no request
    return;
  }
  const InFlight sent = c.in_flight.front();
  c.in_flight.pop_front();
  in_flight_--;
  lines_acked_++;
  last_ack_ns_ = now;
  ack_latency_.record(now - sent.written_ns);
  if (ok) {
    deliveries_ok_ += sent.deliveries;
    return;
  }
  deliveries_refused_ += sent.deliveries;
  if (code.empty()) return;  // unparsable: counted as a bad reply
  auto it = refused_by_code_.find(code);
  if (it == refused_by_code_.end()) it = refused_by_code_.emplace(std::string(code), 0).first;
  it->second += sent.deliveries;
}

void SendRun::emit_progress(int64_t now) {
  ProgressLine("send", static_cast<double>(now - start_ns_) / 1e9)
      .add("sent", lines_sent_)
      .add("acked", lines_acked_)
      .add("ok", deliveries_ok_)
      .add("refused", deliveries_refused_)
      .add("in_flight", in_flight_)
      .emit();
}

std::string SendRun::result_json(int64_t now) const {
  JsonOut refused;
  uint64_t unexpected = 0;
  for (const auto& [code, count] : refused_by_code_) {
    // Codes are [a-z_] by PROTOCOL.md; anything else is counted apart rather than written raw.
    bool plain = !code.empty() && code.size() < 64;
    for (char c : code) plain = plain && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_');
    if (plain) {
      refused.number(code, count);
    } else {
      unexpected += count;
    }
  }
  if (unexpected) refused.number("unexpected_code", unexpected);
  std::string ack;
  ack_latency_.append_json(ack);
  JsonOut out;
  out.string("mode", "send")
      .number("cpu_seconds", cpu_seconds())
      .number("clients", static_cast<uint64_t>(options_.clients))
      .number("fanout", static_cast<uint64_t>(options_.fanout))
      .string("order", options_.order == SendOrder::sequential ? "sequential" : "random")
      .number("first_seq", options_.first_seq)
      .number("rate", options_.rate)
      .number("window", static_cast<uint64_t>(options_.window))
      .number("messages", generated_)
      .number("lines_sent", lines_sent_)
      .number("lines_acked", lines_acked_)
      .number("deliveries_ok", deliveries_ok_)
      .number("deliveries_refused", deliveries_refused_)
      .number("bad_replies", bad_replies_)
      .number("unanswered", static_cast<uint64_t>(in_flight_))
      .string("protocol", options_.protocol == Protocol::nchan ? "nchan" : "megacomet")
      .number("connections", static_cast<uint64_t>(connections_.size()))
      .number("window_used", static_cast<uint64_t>(window_))
      .number("achieved_rate", achieved_rate())
      .number("start_ns", start_ns_)
      .number("end_ns", now)
      .number("first_write_ns", first_write_ns_)
      .number("last_write_ns", last_write_ns_)
      .number("last_ack_ns", last_ack_ns_)
      .number("max_lag_ns", max_lag_ns_)
      .raw("refused", refused.finish())
      .raw("ack_latency", ack);
  return out.finish();
}

}  // namespace

int run_app_sender(const Options& options) {
  auto run = std::make_unique<SendRun>(options);
  return run->run();
}

}  // namespace loadgen
