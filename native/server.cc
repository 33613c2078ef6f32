#include "server.h"

#include <errno.h>

#include "errno_text.h"

namespace megacomet {

namespace {

// Fairness bounds per libuv wake-up; the epoll fd stays readable, so the rest
// is picked up on the next iteration (the listener's bound is in acceptor.h).
constexpr int kEpollBatch = 512;
constexpr int kMaxEpollRounds = 8;

AcceptorConfig acceptor_config(const ServerConfig& c) {
  AcceptorConfig a;
  a.host = c.host;
  a.port = c.port;
  a.backlog = c.backlog;
  a.max_connections = c.max_connections;
  a.shared_connections = c.shared_connections;
  a.spread = c.spread;
  return a;
}

ConnectionConfig connection_config(const ServerConfig& c) {
  ConnectionConfig a;
  a.head_timeout_ms = c.head_timeout_ms;
  a.keep_alive_timeout_ms = c.keep_alive_timeout_ms;
  a.heartbeat_ms = c.heartbeat_ms;
  a.max_stream_buffer = c.max_stream_buffer;
  return a;
}

}  // namespace

Server::Busy::~Busy() {
  if (--s_->busy_ == 0 && s_->closing_ && !s_->closed_) s_->finish_close();
}

Server::Server(const ServerConfig& config, uv_loop_s* loop, std::uint8_t* events,
               std::size_t events_capacity, EventSink* sink)
    : max_connections_(config.max_connections),
      templates_(config.cors_origin),
      loop_(loop, this),
      acceptor_(acceptor_config(config), &loop_, templates_.error(HttpError::kServiceUnavailable)),
      connections_(connection_config(config), &templates_, &loop_, &acceptor_.admission(), events,
                   events_capacity, sink),
      sink_(sink) {}

Server::~Server() {
  close(nullptr, nullptr);
  if (!closed_) finish_close();
}

// ---- lifecycle ------------------------------------------------------------------

int Server::listen(std::string* error) {
  if (closing_) {
    *error = "the engine is closed; create a new one";
    return -1;
  }
  if (listening_ || connections_.draining()) {
    *error = "listen() may be called once, and not after drain()";
    return -1;
  }
  // A failed listen() (say EADDRINUSE) may be retried: set these up once.
  if (!connections_.reserve(max_connections_)) {
    *error = "cannot reserve the connection table for " + std::to_string(max_connections_) +
             " connections: " + describe_errno(errno) + "; lower maxConnections";
    return -1;
  }
  if (!loop_.opened() && !loop_.open()) {
    *error = "cannot create an epoll set: " + describe_errno(errno);
    return -1;
  }
  int port = acceptor_.open(error);
  if (port < 0) return -1;
  int rc = loop_.start();
  if (rc != 0) {
    *error = std::string("cannot watch the epoll set from the libuv loop: error ") + std::to_string(rc);
    acceptor_.stop();
    return -1;
  }
  scratch_ = std::make_unique<char[]>(kReadScratchBytes);
  ready_ = std::make_unique<epoll_event[]>(kEpollBatch);
  connections_.start(scratch_.get());
  acceptor_.start(scratch_.get(), kReadScratchBytes);
  listening_ = true;
  return port;
}

void Server::drain() {
  if (closing_ || connections_.draining()) return;
  acceptor_.stop();
  connections_.drain();
}

void Server::close(void (*done)(void*), void* arg) {
  if (closing_) return;
  closing_ = true;
  connections_.stop();
  close_done_ = done;
  close_arg_ = arg;
  if (busy_ == 0) finish_close();
}

void Server::finish_close() {
  closed_ = true;
  connections_.close_all();
  acceptor_.close();
  void (*done)(void*) = close_done_;
  close_done_ = nullptr;
  loop_.shutdown(done, close_arg_);
}

ServerStats Server::stats() {
  reported_ = current_stats();
  return reported_;
}

void Server::announce_stats_change() {
  ServerStats now = current_stats();
  if (now == reported_) return;
  reported_ = now;
  sink_->deliver(0, 0);
}

ServerStats Server::current_stats() const {
  ServerStats s;
  s.connections = acceptor_.open();
  s.held = connections_.held();
  s.streams = connections_.streams();
  s.accepted = acceptor_.accepted();
  s.refused = acceptor_.refused();
  s.bad_requests = connections_.bad_requests();
  return s;
}

// ---- loop callbacks -----------------------------------------------------------

void Server::on_epoll_ready() {
  Busy busy(this);
  for (int round = 0; round < kMaxEpollRounds && !closing_; ++round) {
    // Safe here and only here: no event of an earlier batch is in hand.
    connections_.recycle();
    int n = loop_.wait(ready_.get(), kEpollBatch);
    for (int i = 0; i < n && !closing_; ++i) dispatch(ready_[i]);
    if (n < kEpollBatch) break;
    // A full batch: more may be ready. The rounds are bounded so other handles on
    // this loop get their turn; libuv calls again while the set stays readable.
  }
}

void Server::dispatch(const epoll_event& ev) {
  std::uint32_t slot = static_cast<std::uint32_t>(ev.data.u64);
  if (slot == kListenerData) {
    acceptor_.on_ready([this](int fd) { return connections_.adopt(fd); });
    return;
  }
  connections_.on_ready(slot, ev.events);
}

void Server::on_tick() {
  Busy busy(this);
  if (closing_) return;
  connections_.on_tick();
  if (closing_) return;
  acceptor_.on_tick();
  if (closing_) return;
  std::uint64_t due = connections_.next_due_ms();
  if (due != kNoDeadline) loop_.tick_at(due);
}

void Server::on_idle() {
  Busy busy(this);
  if (closing_) return;
  connections_.run_deferred();
}

void Server::on_check() {
  Busy busy(this);
  if (closing_) return;
  connections_.flush();
  if (!closing_) announce_stats_change();
  if (!closing_ && connections_.idle()) loop_.sleep();
}

}  // namespace megacomet
