#include "client_fleet.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "clock.h"
#include "cpu_time.h"
#include "progress.h"
#include "stop_signal.h"
#include "tcp_connect.h"

namespace loadgen {

namespace {

// After a failure a client waits this long before it connects again, so a server that refuses
// everything is not hammered in a tight loop.
constexpr int64_t kBackoffNs = 250 * kNsPerMs;

}  // namespace

ClientFleet::ClientFleet(const Options& options, const char* name, FleetMode& mode)
    : options_(options), name_(name), mode_(mode), clients_(options.clients) {}

int ClientFleet::run() {
  if (!loop_.ok()) {
    std::fprintf(stderr, "loadgen %s: epoll_create1 failed: %s\n", name_, std::strerror(errno));
    return 1;
  }
  if (!make_address(options_.host, options_.port, destination_)) {
    std::fprintf(stderr, "loadgen %s: --host %s is not an IPv4 address\n", name_, options_.host.c_str());
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
    if (take_snapshot_request()) emit_snapshot(now);
    start_connects(now);
    if (progress.due(now)) emit_progress(now);
    const int n = loop_.wait(events.data(), static_cast<int>(events.size()), wait_timeout(now));
    if (n < 0) {
      std::fprintf(stderr, "loadgen %s: epoll_pwait2 failed: %s\n", name_, std::strerror(errno));
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

int64_t ClientFleet::wait_timeout(int64_t now) const {
  int64_t timeout = 100 * kNsPerMs;  // wake-ups for the deadline, backoff and progress
  if (!backoff_queue_.empty() && backoff_queue_.front().first - now < timeout) {
    timeout = backoff_queue_.front().first - now;
  }
  if (!connect_queue_.empty() && connecting_ < options_.concurrency && next_connect_ns_ - now < timeout) {
    timeout = next_connect_ns_ - now;
  }
  return timeout;
}

void ClientFleet::start_connects(int64_t now) {
  while (!backoff_queue_.empty() && backoff_queue_.front().first <= now) {
    const uint32_t index = backoff_queue_.front().second;
    backoff_queue_.pop_front();
    clients_[index].phase = Phase::queued;
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
      c.phase = Phase::backoff;
      backoff_queue_.emplace_back(now + kBackoffNs, index);
      continue;
    }
    c.fd = fd;
    c.phase = Phase::connecting;
    c.watching_out = true;
    connecting_++;
    loop_.add(fd, EPOLLOUT, index);
  }
}

void ClientFleet::on_event(uint32_t index, uint32_t events, int64_t now) {
  Client& c = clients_[index];
  if (c.fd < 0) return;
  if (c.phase == Phase::connecting) {
    if (connect_result(c.fd) != 0) {
      errors_.connect++;
      drop(index, true, now);
      return;
    }
    connecting_--;
    connected_++;
    send(index);
    return;
  }
  if (c.phase == Phase::writing && (events & EPOLLOUT)) {
    flush_request(index);
    if (c.fd < 0) return;
  }
  if (events & (EPOLLIN | EPOLLERR | EPOLLHUP)) on_readable(index, now);
}

void ClientFleet::send(uint32_t index) {
  Client& c = clients_[index];
  requests_++;
  c.pending.clear();
  mode_.append_request(index, c.pending);
  c.phase = Phase::writing;
  flush_request(index);
}

void ClientFleet::flush_request(uint32_t index) {
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
  if (!want_out) {
    c.phase = Phase::reading;
    mode_.on_request_sent(index);
  }
}

void ClientFleet::on_readable(uint32_t index, int64_t now) {
  Client& c = clients_[index];
  const ssize_t n = read(c.fd, read_buffer_, sizeof read_buffer_);
  if (n < 0 && errno == EAGAIN) return;
  if (n <= 0) {
    // EOF or reset: a keep-alive close between polls, a dropped poll, or an ended stream. Either
    // way the client reconnects and asks again with its cursor.
    errors_.server_closed++;
    drop(index, true, now);
    return;
  }
  if (c.phase != Phase::reading) {
    errors_.bad_response++;  // the server spoke before the request was complete
    drop(index, true, now);
    return;
  }
  std::string_view bytes(read_buffer_, static_cast<size_t>(n));
  if (!c.pending.empty()) {
    c.pending.append(bytes);
    bytes = c.pending;
  }
  mode_.on_bytes(index, bytes, now);
}

void ClientFleet::receive(uint32_t index, int64_t seq, int64_t sent_ns, int64_t received_ns) {
  if (first_receive_ns_ == 0) first_receive_ns_ = received_ns;
  last_receive_ns_ = received_ns;
  check_sequence(clients_[index].last_seq, seq, delivery_);
  if (sent_ns >= 0) latency_.record(received_ns - sent_ns);
}

void ClientFleet::drop(uint32_t index, bool backoff, int64_t now) {
  Client& c = clients_[index];
  if (c.phase == Phase::connecting) {
    connecting_--;
  } else if (c.fd >= 0) {
    connected_--;
  }
  mode_.on_drop(index);
  if (c.fd >= 0) {
    loop_.remove(c.fd);
    close(c.fd);
    c.fd = -1;
  }
  c.watching_out = false;
  c.pending.clear();
  c.pending.shrink_to_fit();
  if (backoff) {
    c.phase = Phase::backoff;
    backoff_queue_.emplace_back(now + kBackoffNs, index);
  } else {
    c.phase = Phase::queued;
    connect_queue_.push_back(index);
  }
}

void ClientFleet::emit_progress(int64_t now) {
  const uint64_t errors = errors_.connect + errors_.server_closed + errors_.http_status +
                          errors_.bad_response + errors_.bad_cursor + mode_.extra_errors();
  ProgressLine(name_, static_cast<double>(now - start_ns_) / 1e9)
      .add("clients", options_.clients)
      .add("connected", connected_)
      .add("held", held)
      .add("responses", responses)
      .add("received", delivery_.received)
      .add("duplicated", delivery_.duplicated)
      .add("gaps", delivery_.gaps)
      .add("errors", errors)
      .emit();
}

void ClientFleet::emit_snapshot(int64_t now) {
  const std::string line = result_json(now, true) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
  latency_ = Histogram{};
}

std::string ClientFleet::result_json(int64_t now, bool snapshot) const {
  SeqSpread spread;
  for (const Client& c : clients_) spread.add(c.last_seq);
  JsonOut errors;
  errors.number("connect", errors_.connect)
      .number("server_closed", errors_.server_closed)
      .number("http_status", errors_.http_status)
      .number("bad_response", errors_.bad_response)
      .number("bad_cursor", errors_.bad_cursor);
  mode_.add_error_fields(errors);
  std::string latency;
  latency_.append_json(latency);
  // Every mode prints the same keys, so the runner reads them alike: an sse stream is a "poll"
  // that is held for good, and its head the "response".
  JsonOut out;
  out.string("mode", name_)
      .raw("snapshot", snapshot ? "true" : "false")
      .number("cpu_seconds", cpu_seconds())
      .number("clients", static_cast<uint64_t>(options_.clients))
      .number("first_client", static_cast<uint64_t>(options_.first_client))
      .number("connected", static_cast<uint64_t>(connected_))
      .number("held", static_cast<uint64_t>(held))
      .number("connects", connects_)
      .number("polls", requests_)
      .number("responses", responses)
      .number("empty_responses", empty_responses);
  mode_.add_result_fields(out);
  out.number("received", delivery_.received)
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

}  // namespace loadgen
