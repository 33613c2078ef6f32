// The connection state machine of one engine: every connection the acceptor
// handed over, from its first byte to its close, and the events it raises for
// JavaScript. The states and flags are in connection_table.h.
//
// Life of a connection:
//   adopt() -> kHead (head timer) -> bytes read into the scratch buffer and parsed
//   in place -> REQUEST event (generation bumped, handle = gen * 2^24 + slot) ->
//   kOutstanding (JS may hold() it: timer -> TIMEOUT event; peer close -> CLOSED
//   event) -> respond(): head from templates + body in one sendmsg -> the unsent
//   rest, if any, waits for EPOLLOUT in kWriting -> kHead again (keep-alive timer;
//   pipelined bytes parsed on the next idle pass) or kLingering (write side shut,
//   input drained until the peer closes) -> closed, its room given back to the
//   acceptor's Admission.
//
// Readiness is edge-triggered (kConnectionEvents, registered once at adopt(),
// never modified): a held poll costs no epoll_ctl at all, and a response that
// must wait for EPOLLOUT needs no MOD before and after. The price is that
// reading may stop before EAGAIN only if the connection remembers it
// (kReadPending); a short read means the socket was drained.
//
// Re-entrancy: events are appended to one batch, handed to the EventSink (which
// runs JS) by flush() once per loop iteration, or earlier when the batch is
// full. JS may then call respond(), hold(), drain() or the server's close()
// (stop()), so the code re-checks a connection's state after every hand-over
// and gives up once stopped. Nothing JS can call appends an event or reads a
// socket: the work respond() causes (parsing a pipelined request, draining a
// lingering socket) is deferred to run_deferred(), on the next idle pass, so a
// request being parsed out of the scratch buffer is never overwritten under it.
//
// The methods are spread by phase: connections.cc (adopting, readiness,
// deadlines, deferred work, the event batch, drain and hard close),
// request_reader.cc (reading, parsing heads, error answers), response_writer.cc
// (respond, sendmsg, the unsent rest, keep-alive) and connection_close.cc (the
// peer leaving, lingering close, releasing a record). They are one class
// because each phase ends in another's: an error answer is a write, a finished
// write resumes reading, a failed read closes.
#pragma once

#include <sys/epoll.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "acceptor.h"
#include "connection_table.h"
#include "connection_timers.h"
#include "event_batch.h"
#include "event_loop.h"
#include "http_errors.h"
#include "http_response.h"

namespace megacomet {

// Registered once per connection at adopt() and never modified (see above).
inline constexpr std::uint32_t kConnectionEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// Every read lands in one per-thread buffer; only what must be kept (a partial
// head, pipelined bytes) is copied into a per-connection buffer. 64 KiB also
// bounds the pipelined bytes one connection can have buffered: reading stops
// behind an outstanding request, so that is at most one read's worth.
inline constexpr std::size_t kReadScratchBytes = 64 * 1024;

struct ConnectionConfig {
  std::uint32_t head_timeout_ms = 10000;
  std::uint32_t keep_alive_timeout_ms = 60000;
  // Event streams (event_stream.cc): a comment line after this long without
  // other bytes; the stream is closed when its unsent bytes pass the limit.
  std::uint32_t heartbeat_ms = 15000;
  std::uint32_t max_stream_buffer = 1024 * 1024;
};

// What stream_write() did.
enum class StreamWrite : std::uint8_t {
  kWritten = 0,  // written, or kept to be written on EPOLLOUT
  kStale = 1,    // (slot, gen) is no open stream: nothing written
  kClosed = 2,   // the stream passed its unsent-bytes limit (or the socket failed) and is now closed; no CLOSED event follows
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

class Connections {
 public:
  // Everything given outlives the object. `events` (events_capacity bytes)
  // receives the event records, `sink` takes each batch, `admission` is told
  // when a connection closes.
  Connections(const ConnectionConfig& config, const ResponseTemplates* templates, EventLoop* loop,
              Admission* admission, std::uint8_t* events, std::size_t events_capacity, EventSink* sink);
  Connections(const Connections&) = delete;
  Connections& operator=(const Connections&) = delete;

  // Reserves the table for `capacity` connections; a second call (a retried
  // listen()) keeps the first table. False with errno set on failure.
  bool reserve(std::uint32_t capacity);
  // Ready to adopt: starts the deadlines' clock. `scratch` (kReadScratchBytes,
  // the engine's) receives every read.
  void start(char* scratch);

  // ---- from the loop (connections.cc) ----
  // Takes an accepted, admitted socket (Acceptor::on_ready's adopter).
  Adoption adopt(int fd);
  // Makes released slots reusable. Only where no epoll event is in hand.
  void recycle() { table_.recycle(); }
  // Readiness `events` for the connection in `slot` (maybe closed meanwhile).
  void on_ready(std::uint32_t slot, std::uint32_t events);
  // Acts on the deadlines that have come.
  void on_tick();
  // True while some deadline is armed (the tick must keep running).
  // Loop time of the next connection deadline; kNoDeadline when none is armed.
  std::uint64_t next_due_ms() const { return timers_.next_due_ms(); }
  // The idle pass: work respond() and others left for later.
  void run_deferred();
  // Hands the events collected so far to the sink (runs JS).
  void flush();
  // Nothing deferred and no event waiting: the loop may block.
  bool idle() const { return deferred_.empty() && events_.empty(); }

  // ---- from JS, through the Server ----
  // False, doing nothing, when (slot, gen) is not an outstanding request.
  bool respond(std::uint32_t slot, std::uint32_t gen, const ResponseInput& response);
  bool hold(std::uint32_t slot, std::uint32_t gen, std::uint32_t timeout_ms);
  // Event streams (event_stream.cc). open_stream() turns the outstanding
  // request into a stream: the head, then `body` (the first bytes, e.g. a
  // retry: line); heartbeats start. False when (slot, gen) is no outstanding
  // request, or the peer already left (then the connection is closed, no
  // CLOSED follows). stream_write() appends complete events. end_stream()
  // closes it once its unsent bytes are written. The peer leaving reports
  // CLOSED, as for a held request.
  bool open_stream(std::uint32_t slot, std::uint32_t gen, const char* body, std::size_t len);
  StreamWrite stream_write(std::uint32_t slot, std::uint32_t gen, const char* data, std::size_t len);
  bool end_stream(std::uint32_t slot, std::uint32_t gen);
  // Closes idle connections and answers the rest with Connection: close.
  void drain();
  bool draining() const { return draining_; }

  // ---- from the Server's close ----
  // The server is closing: every loop here ends at its next check, respond()
  // and hold() refuse, nothing new starts. Takes effect at once, even inside JS.
  void stop() { stopped_ = true; }
  // Closes every connection at once: no event, no answer, no lingering.
  void close_all();

  std::uint64_t held() const { return held_; }
  std::uint64_t streams() const { return streams_; }
  std::uint64_t bad_requests() const { return bad_requests_; }

 private:
  // connections.cc: deadlines, deferred work, events.
  // Marks the outstanding request (slot, gen) held, for hold() and open_stream(); false
  // (closing it if its peer already left) when there is no such request to hold.
  bool begin_held(std::uint32_t slot, std::uint32_t gen);
  void on_timer(std::uint32_t slot);
  void defer(std::uint32_t slot);
  // Makes room for a record of `bytes`, flushing (running JS) if needed. False
  // once the server stopped meanwhile.
  bool make_room(std::size_t bytes);

  // request_reader.cc: reading and parsing.
  bool wants_input(const Connection& c) const;
  // Bytes of later requests are buffered or may wait in the kernel.
  bool has_more_input(const Connection& c) const;
  void read_input(std::uint32_t slot);
  void consume_input(std::uint32_t slot, const char* data, std::size_t len);
  void parse_head(std::uint32_t slot, const char* data, std::size_t len, bool buffered,
                  bool head_started);
  void answer_error(std::uint32_t slot, HttpError error);

  // response_writer.cc: writing and what follows a response.
  void write_response(std::uint32_t slot, const iovec* iov, int iov_count, std::size_t total);
  void on_writable(std::uint32_t slot);
  void response_done(std::uint32_t slot);
  void resume(std::uint32_t slot);

  // event_stream.cc: writing a stream, its heartbeat, its unsent rest.
  bool stream_send(std::uint32_t slot, const iovec* iov, int iov_count);
  void on_stream_writable(std::uint32_t slot);
  void on_stream_timer(std::uint32_t slot);

  // connection_close.cc: the peer leaving, lingering close, releasing.
  void finish_connection(std::uint32_t slot);
  void drain_lingering(std::uint32_t slot);
  void on_peer_gone(std::uint32_t slot);
  void on_peer_half_closed(std::uint32_t slot);
  void report_closed_and_close(std::uint32_t slot);
  void close_connection(std::uint32_t slot);

  ConnectionConfig config_;
  const ResponseTemplates* templates_;
  EventLoop* loop_;
  Admission* admission_;
  ConnectionTable table_;
  ConnectionTimers timers_;
  EventBatch events_;
  EventSink* sink_;
  char* scratch_ = nullptr;               // every read lands here first
  std::vector<std::uint32_t> deferred_;   // slots with work for the next idle pass
  std::vector<std::uint32_t> deferred_now_;
  bool draining_ = false;
  bool stopped_ = false;

  std::uint64_t held_ = 0;
  std::uint64_t streams_ = 0;  // open event streams (also counted in held_)
  std::uint64_t bad_requests_ = 0;
};

}  // namespace megacomet
