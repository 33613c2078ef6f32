// The per-thread HTTP/1.1 engine: one listening socket (SO_REUSEPORT), one epoll
// set, one connection table, one timer wheel, one event batch. No napi here:
// engine.cc converts JS values into the plain types below and back.
//
// Life of a request:
//   accept4 -> kHead (head timer) -> bytes read into the scratch buffer and parsed
//   in place -> REQUEST event (generation bumped, handle = gen * 2^24 + slot) ->
//   kOutstanding (JS may hold() it: timer -> TIMEOUT event; peer close -> CLOSED
//   event) -> respond(): head from templates + body in one sendmsg -> the unsent
//   rest, if any, waits for EPOLLOUT in kWriting -> kHead again (keep-alive timer;
//   pipelined bytes parsed on the next idle pass) or a lingering close.
//
// Readiness is edge-triggered for connections (EPOLLIN|EPOLLOUT|EPOLLRDHUP|EPOLLET,
// registered once at accept, never modified): a held poll costs no epoll_ctl at
// all, and a response that must wait for EPOLLOUT needs no MOD before and after.
// The price is that reading may stop before EAGAIN only if the connection
// remembers it (kReadPending); a short read means the socket was drained. The
// listening socket is level-triggered so accepting can stop after a bounded
// number per wake-up and resume on the next one.
//
// Events are collected during a loop iteration and handed to JS in one call from
// the check phase. respond()/hold()/drain() never call into JS; work they cause
// (parsing a pipelined request) runs in the next idle pass.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "acceptor.h"
#include "connection_table.h"
#include "connection_timers.h"
#include "event_batch.h"
#include "event_loop.h"
#include "http_response.h"

namespace megacomet {

struct ServerConfig {
  std::string host;
  std::uint16_t port = 0;
  int backlog = 511;
  std::uint32_t max_connections = 1;
  std::int32_t* shared_connections = nullptr;  // see AcceptorConfig
  std::uint32_t head_timeout_ms = 10000;
  std::uint32_t keep_alive_timeout_ms = 60000;
  std::string cors_origin = "*";
};

struct ServerStats {
  std::uint64_t connections = 0;
  std::uint64_t held = 0;
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
  std::uint64_t bad_requests = 0;
};

// The body and head of one response, as JS gave them.
struct ResponseInput {
  std::uint16_t status;
  ResponseKind kind;
  const char* body;
  std::size_t body_len;
  const char* extra_headers;
  std::size_t extra_len;
};

// Receives the event batch. deliver() may call respond(), hold(), drain() and
// close() on the server; it must not return before it has read the events.
class EventSink {
 public:
  virtual void deliver(std::uint32_t count, std::uint32_t bytes) = 0;

 protected:
  ~EventSink() = default;
};

class Server final : private LoopHandler {
 public:
  // `events` (events_capacity bytes) receives the event records; it and `sink`
  // outlive the server.
  Server(const ServerConfig& config, uv_loop_s* loop, std::uint8_t* events,
         std::size_t events_capacity, EventSink* sink);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds, listens and starts watching. Returns the bound port, or -1 with *error.
  int listen(std::string* error);

  // False, doing nothing, when (slot, gen) is not an outstanding request.
  bool respond(std::uint32_t slot, std::uint32_t gen, const ResponseInput& response);
  bool hold(std::uint32_t slot, std::uint32_t gen, std::uint32_t timeout_ms);
  void drain();
  // Hard stop. `done(arg)` runs once the libuv handles are closed (maybe later,
  // maybe at once). Called during an event delivery, the stop completes when the
  // engine's current callback unwinds. Idempotent: later calls are ignored.
  void close(void (*done)(void*), void* arg);
  bool close_started() const { return closing_; }
  // True while an engine callback (and maybe JS inside it) is on the stack.
  bool busy() const { return busy_ > 0; }

  ServerStats stats() const;

 private:
  // LoopHandler.
  void on_epoll_ready() override;
  void on_tick() override;
  void on_idle() override;
  void on_check() override;

  // Marks an engine callback in progress; a close() requested meanwhile completes
  // when the outermost one ends.
  class Busy {
   public:
    explicit Busy(Server* s) : s_(s) { ++s_->busy_; }
    ~Busy();
    Busy(const Busy&) = delete;
    Busy& operator=(const Busy&) = delete;

   private:
    Server* s_;
  };

  // server.cc: lifecycle, adopting connections, timers, events.
  void finish_close();
  void dispatch(const epoll_event& ev);
  Adoption adopt(int fd);
  void on_timer(std::uint32_t slot);
  bool make_room(std::size_t bytes);
  void flush();
  void defer(std::uint32_t slot);
  void run_deferred();
  void report_closed_and_close(std::uint32_t slot);

  // server_requests.cc: reading and parsing.
  bool wants_input(const Connection& c) const;
  // Bytes of later requests are buffered or may wait in the kernel.
  bool has_more_input(const Connection& c) const;
  void read_input(std::uint32_t slot);
  void consume_input(std::uint32_t slot, const char* data, std::size_t len);
  void parse_head(std::uint32_t slot, const char* data, std::size_t len, bool buffered,
                  bool head_started);
  void answer_error(std::uint32_t slot, HttpError error);
  // server_responses.cc: writing and closing.
  void write_response(std::uint32_t slot, const iovec* iov, int iov_count, std::size_t total);
  void on_writable(std::uint32_t slot);
  void response_done(std::uint32_t slot);
  void resume(std::uint32_t slot);
  void finish_connection(std::uint32_t slot);
  void drain_lingering(std::uint32_t slot);
  void on_peer_gone(std::uint32_t slot);
  void on_peer_half_closed(std::uint32_t slot);
  void close_connection(std::uint32_t slot);

  ServerConfig config_;
  ResponseTemplates templates_;
  EventLoop loop_;
  Acceptor acceptor_;
  ConnectionTable table_;
  ConnectionTimers timers_;
  EventBatch events_;
  EventSink* sink_;
  std::unique_ptr<char[]> scratch_;       // every read lands here first
  std::vector<std::uint32_t> deferred_;   // slots with work for the next idle pass
  std::vector<std::uint32_t> deferred_now_;
  std::unique_ptr<epoll_event[]> ready_;  // one epoll_wait batch

  int busy_ = 0;
  bool listening_ = false;
  bool draining_ = false;
  bool closing_ = false;
  bool closed_ = false;
  void (*close_done_)(void*) = nullptr;
  void* close_arg_ = nullptr;

  std::uint64_t held_ = 0;
  std::uint64_t bad_requests_ = 0;
};

}  // namespace megacomet
