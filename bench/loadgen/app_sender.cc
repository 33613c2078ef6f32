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
#include "message_lines.h"
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
  bool flush();
  bool on_readable(int64_t now);
  void on_reply(std::string_view line, int64_t now);
  void emit_progress(int64_t now);
  std::string result_json(int64_t now) const;

  const Options& options_;
  EventLoop loop_;
  int fd_ = -1;
  std::string out_;
  size_t out_offset_ = 0;
  std::string in_;
  std::deque<InFlight> in_flight_;
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

  fd_ = start_connect(destination, 0);
  if (fd_ < 0) {
    std::fprintf(stderr, "loadgen send: connect to %s:%u failed: %s\n", options_.app_host.c_str(),
                 options_.app_port, std::strerror(errno));
    return 1;
  }
  loop_.add(fd_, EPOLLOUT, 0);
  epoll_event event{};
  while (loop_.wait(&event, 1, 100 * kNsPerMs) == 0) {
    if (stop_requested() || monotonic_ns() >= hard_end) return 1;
  }
  if (connect_result(fd_) != 0) {
    std::fprintf(stderr, "loadgen send: connect to %s:%u failed: %s\n", options_.app_host.c_str(),
                 options_.app_port, std::strerror(connect_result(fd_)));
    return 1;
  }
  loop_.modify(fd_, EPOLLIN, 0);
  // The rate schedule starts now, not before the connect.
  start_ns_ = monotonic_ns();
  if (options_.duration > 0) generate_end_ns_ = start_ns_ + seconds_to_ns(options_.duration);

  ProgressClock progress(options_.progress_interval);
  const int64_t stall_ns = seconds_to_ns(options_.stall_seconds);
  int64_t now = start_ns_;
  int64_t drain_end = 0;
  bool writing = false;
  while (now < hard_end && !closed_by_server_) {
    if (!in_flight_.empty() && now - std::max(last_ack_ns_, in_flight_.front().written_ns) > stall_ns) {
      std::fprintf(stderr, "loadgen send: no reply for %g s with %zu lines unanswered: giving up\n",
                   options_.stall_seconds, in_flight_.size());
      break;
    }
    const bool sending = !stop_requested() && generated_ < options_.messages && now < generate_end_ns_;
    if (!sending) {
      if (in_flight_.empty()) break;
      if (stop_requested()) {
        if (drain_end == 0) drain_end = now + kDrainNs;
        if (now >= drain_end) break;
      }
    }
    if (sending && generate(now) && !flush()) break;
    const bool want_write = out_offset_ < out_.size();
    if (want_write != writing) {
      loop_.modify(fd_, want_write ? EPOLLIN | EPOLLOUT : EPOLLIN, 0);
      writing = want_write;
    }
    if (progress.due(now)) emit_progress(now);
    int64_t timeout = 100 * kNsPerMs;
    const int64_t next = sending ? time_to_next(now) : -1;
    if (next >= 0 && next < timeout) timeout = next;
    const int n = loop_.wait(&event, 1, timeout);
    if (n < 0) {
      std::fprintf(stderr, "loadgen send: epoll_pwait2 failed: %s\n", std::strerror(errno));
      break;
    }
    now = monotonic_ns();
    if (n == 1) {
      if ((event.events & EPOLLOUT) && !flush()) break;
      if ((event.events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !on_readable(now)) break;
    }
  }
  now = monotonic_ns();
  emit_progress(now);
  const std::string result = result_json(now) + "\n";
  std::fwrite(result.data(), 1, result.size(), stdout);
  std::fflush(stdout);
  close(fd_);
  return 0;
}

int64_t SendRun::time_to_next(int64_t now) const {
  if (options_.rate <= 0 || generated_ >= options_.messages) return -1;
  // With the window full only a reply can let the next message out: wait for that, not the clock.
  if (!in_flight_.empty() && in_flight_.size() >= options_.window) return -1;
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
    if (!in_flight_.empty() && in_flight_.size() >= options_.window) break;
    const int64_t due = due_ns();
    if (due > now) break;
    if (now - due > max_lag_ns_) max_lag_ns_ = now - due;
    const int64_t seq = static_cast<int64_t>(options_.first_seq) + static_cast<int64_t>(generated_) + 1;
    append_fanout_line(out_, fanout_groups_[round_line_], due, seq);
    in_flight_.push_back(InFlight{fanout_ranges_[round_line_].count, now});
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
    if (!in_flight_.empty() && in_flight_.size() + lines_per_message > options_.window) break;
    int64_t t = now;
    if (options_.rate > 0) {
      // The data carries the time the message was due, not when it was written: if the window
      // or the socket held it back, that wait is part of the latency the pollers measure
      // (no coordinated omission).
      const auto due =
          start_ns_ + static_cast<int64_t>(static_cast<double>(generated_) * 1e9 / options_.rate);
      if (due > now) break;
      t = due;
      if (now - due > max_lag_ns_) max_lag_ns_ = now - due;
    }
    const auto first_seq = static_cast<int64_t>(options_.first_seq);
    if (!options_.publish.empty()) {
      append_publish_line(out_, options_.publish, t, first_seq + static_cast<int64_t>(generated_) + 1);
      in_flight_.push_back(InFlight{options_.clients, now});
    } else if (options_.fanout) {
      const int64_t seq = first_seq + static_cast<int64_t>(generated_) + 1;
      for (size_t g = 0; g < fanout_groups_.size(); g++) {
        append_fanout_line(out_, fanout_groups_[g], t, seq);
        in_flight_.push_back(InFlight{fanout_ranges_[g].count, now});
      }
    } else {
      const uint32_t index = options_.order == SendOrder::sequential
                                 ? sequential_client(generated_, options_.clients)
                                 : static_cast<uint32_t>(random_.next() % options_.clients);
      append_send_line(out_, options_.prefix, options_.first_client + index, t,
                       first_seq + ++next_seq_[index]);
      in_flight_.push_back(InFlight{1, now});
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

bool SendRun::flush() {
  while (out_offset_ < out_.size()) {
    const ssize_t n = write(fd_, out_.data() + out_offset_, out_.size() - out_offset_);
    if (n < 0) {
      if (errno == EAGAIN) return true;
      std::fprintf(stderr, "loadgen send: write to the app port failed: %s\n", std::strerror(errno));
      closed_by_server_ = true;
      return false;
    }
    out_offset_ += static_cast<size_t>(n);
  }
  out_.clear();
  out_offset_ = 0;
  return true;
}

bool SendRun::on_readable(int64_t now) {
  char buffer[65536];
  const ssize_t n = read(fd_, buffer, sizeof buffer);
  if (n < 0 && errno == EAGAIN) return true;
  if (n <= 0) {
    std::fprintf(stderr, "loadgen send: the server closed the app connection with %zu lines unanswered\n",
                 in_flight_.size());
    closed_by_server_ = true;
    return false;
  }
  std::string_view bytes(buffer, static_cast<size_t>(n));
  // Whole lines straight from the buffer; only a trailing partial line is copied.
  size_t start = 0;
  if (!in_.empty()) {
    const size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      in_.append(bytes);
      return true;
    }
    in_.append(bytes.substr(0, newline));
    on_reply(in_, now);
    in_.clear();
    start = newline + 1;
  }
  for (;;) {
    const size_t newline = bytes.find('\n', start);
    if (newline == std::string_view::npos) break;
    on_reply(bytes.substr(start, newline - start), now);
    start = newline + 1;
  }
  in_.append(bytes.substr(start));
  return true;
}

void SendRun::on_reply(std::string_view line, int64_t now) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (in_flight_.empty()) {
    bad_replies_++;  // a reply to no request
    return;
  }
  const InFlight sent = in_flight_.front();
  in_flight_.pop_front();
  lines_acked_++;
  last_ack_ns_ = now;
  ack_latency_.record(now - sent.written_ns);
  AppReply reply;
  if (!parse_app_reply(line, reply)) {
    bad_replies_++;
    deliveries_refused_ += sent.deliveries;
    return;
  }
  if (reply.ok) {
    deliveries_ok_ += sent.deliveries;
    return;
  }
  deliveries_refused_ += sent.deliveries;
  auto it = refused_by_code_.find(reply.error);
  if (it == refused_by_code_.end()) it = refused_by_code_.emplace(std::string(reply.error), 0).first;
  it->second += sent.deliveries;
}

void SendRun::emit_progress(int64_t now) {
  ProgressLine("send", static_cast<double>(now - start_ns_) / 1e9)
      .add("sent", lines_sent_)
      .add("acked", lines_acked_)
      .add("ok", deliveries_ok_)
      .add("refused", deliveries_refused_)
      .add("in_flight", in_flight_.size())
      .emit();
}

std::string SendRun::result_json(int64_t now) const {
  JsonOut refused;
  uint64_t unexpected = 0;
  for (const auto& [code, count] : refused_by_code_) {
    // Codes are [a-z_] by PROTOCOL.md; anything else is counted apart rather than written raw.
    bool plain = !code.empty() && code.size() < 64;
    for (char c : code) plain = plain && ((c >= 'a' && c <= 'z') || c == '_');
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
      .number("unanswered", static_cast<uint64_t>(in_flight_.size()))
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
