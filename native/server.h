// The per-thread HTTP/1.1 engine as the N-API layer sees it: one epoll set
// watched from the thread's libuv loop, and the parts that share it. The Server
// itself holds no connection state; it coordinates:
//
//   Acceptor      acceptor.h      listening socket, admission, 503, fd shortage
//   Connections   connections.h   the connection state machine, its deadlines
//                                 and the event batch handed to JS
//   EventLoop     event_loop.h    the epoll set and the four libuv handles
//
// The Server owns their lifecycle (listen, drain, close, including a close
// requested from inside JS), routes each epoll event to the acceptor or to a
// connection, and runs the loop's phases: readiness, ticks, the idle pass for
// deferred work, and the check phase, the one place the events collected during
// an iteration are handed to JS in one call. No napi here: engine.cc converts
// JS values into the plain types below and back.
//
// respond()/hold()/drain() never call into JS; work they cause (parsing a
// pipelined request) runs in the next idle pass. They cost one direct call over
// the Connections method they forward to, inlined here.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "acceptor.h"
#include "connections.h"
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
  std::uint32_t heartbeat_ms = 15000;
  std::uint32_t max_stream_buffer = 1024 * 1024;
  std::uint32_t spread = 0;  // see AcceptorConfig
};

struct ServerStats {
  std::uint64_t connections = 0;
  std::uint64_t held = 0;
  std::uint64_t streams = 0;
  std::uint64_t accepted = 0;
  std::uint64_t refused = 0;
  std::uint64_t bad_requests = 0;

  bool operator==(const ServerStats&) const = default;
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
  bool respond(std::uint32_t slot, std::uint32_t gen, const ResponseInput& response) {
    return connections_.respond(slot, gen, response);
  }
  bool hold(std::uint32_t slot, std::uint32_t gen, std::uint32_t timeout_ms) {
    return connections_.hold(slot, gen, timeout_ms);
  }
  bool open_stream(std::uint32_t slot, std::uint32_t gen, const char* body, std::size_t len) {
    return connections_.open_stream(slot, gen, body, len);
  }
  StreamWrite stream_write(std::uint32_t slot, std::uint32_t gen, const char* data, std::size_t len) {
    return connections_.stream_write(slot, gen, data, len);
  }
  bool end_stream(std::uint32_t slot, std::uint32_t gen) { return connections_.end_stream(slot, gen); }
  void drain();
  // Hard stop. `done(arg)` runs once the libuv handles are closed (maybe later,
  // maybe at once). Called during an event delivery, the stop completes when the
  // engine's current callback unwinds. Idempotent: later calls are ignored.
  void close(void (*done)(void*), void* arg);
  bool close_started() const { return closing_; }
  // True while an engine callback (and maybe JS inside it) is on the stack.
  bool busy() const { return busy_ > 0; }

  // The counters now; also what the owner has seen, so only later changes are announced.
  ServerStats stats();

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

  void finish_close();
  ServerStats current_stats() const;
  // Counters move without any event for JS (accepts, closes, refusals, errors
  // answered here). Rather than have JS poll for them on a timer, which wakes an
  // idle thread for nothing, the loop calls the sink with an empty batch after an
  // iteration that changed them, once per change.
  void announce_stats_change();
  void dispatch(const epoll_event& ev);

  std::uint32_t max_connections_;
  ResponseTemplates templates_;  // shared by the acceptor (503) and the connections
  EventLoop loop_;
  Acceptor acceptor_;
  Connections connections_;
  std::unique_ptr<char[]> scratch_;       // every read lands here first
  std::unique_ptr<epoll_event[]> ready_;  // one epoll_wait batch
  EventSink* sink_;
  ServerStats reported_;  // the counters as the owner last read them or was told

  int busy_ = 0;
  bool listening_ = false;
  bool closing_ = false;
  bool closed_ = false;
  void (*close_done_)(void*) = nullptr;
  void* close_arg_ = nullptr;
};

}  // namespace megacomet
