// The machinery every client mode that holds N HTTP connections shares (poll, sse): the connect
// queue paced by --connect-rate and --concurrency, the backoff and reconnect, the epoll loop with
// its snapshot and progress timing, the request write, the read into one buffer, delivery
// checking, and the result line. A mode supplies only what its protocol says (FleetMode).
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "event_loop.h"
#include "histogram.h"
#include "json_out.h"
#include "options.h"
#include "sequence_check.h"

namespace loadgen {

struct FleetErrors {
  uint64_t connect = 0;        // connect() failed or the connection was refused
  uint64_t server_closed = 0;  // EOF or reset (or a failed write) on an open connection
  uint64_t http_status = 0;    // an answer whose status the mode does not accept
  uint64_t bad_response = 0;   // unparsable head or body, or bytes nobody asked for
  uint64_t bad_cursor = 0;     // a cursor or event id that went backwards
};

// What a mode does with a connection; the fleet calls these for client `index`.
class FleetMode {
 public:
  // Appends the next request to `out` (empty): after connect, and whenever the mode calls
  // ClientFleet::send.
  virtual void append_request(uint32_t index, std::string& out) = 0;
  // The whole request has been written.
  virtual void on_request_sent(uint32_t index) = 0;
  // Bytes arrived after the request was sent: the fleet's pending buffer plus the new read, as one
  // view (it may view ClientFleet::pending). The mode keeps what it has not used in pending, and
  // may send or drop.
  virtual void on_bytes(uint32_t index, std::string_view bytes, int64_t now) = 0;
  // The connection is about to close (any reason): undo what the mode counts per open connection.
  virtual void on_drop(uint32_t index) = 0;
  // The mode's own error kinds, beyond FleetErrors: their sum and their result fields.
  virtual uint64_t extra_errors() const { return 0; }
  virtual void add_error_fields(JsonOut&) const {}
  // Result fields between "empty_responses" and "received".
  virtual void add_result_fields(JsonOut&) const {}

 protected:
  ~FleetMode() = default;
};

class ClientFleet {
 public:
  // `name` is the mode as progress lines, results and errors spell it ("poll", "sse").
  ClientFleet(const Options& options, const char* name, FleetMode& mode);
  ClientFleet(const ClientFleet&) = delete;
  ClientFleet& operator=(const ClientFleet&) = delete;

  // Runs until SIGTERM/SIGINT/SIGUSR1, --duration or --max-seconds, then prints the result line.
  // Returns the process exit code (0, or 1 if the run could not start at all).
  int run();

  // Writes the mode's next request on client `index`'s open connection.
  void send(uint32_t index);
  // Closes the client's socket; it connects again at once (backoff false) or after the backoff.
  void drop(uint32_t index, bool backoff, int64_t now);
  // The client's unsent request rest (while writing) or unused bytes (after): see on_bytes.
  std::string& pending(uint32_t index) { return clients_[index].pending; }
  // Checks and times one message client `index` received at `received_ns`.
  void receive(uint32_t index, int64_t seq, int64_t sent_ns, int64_t received_ns);

  FleetErrors& errors() { return errors_; }
  // Modes count these: requests held by the server, and answers (responses, stream heads).
  uint32_t held = 0;
  uint64_t responses = 0;
  uint64_t empty_responses = 0;

 private:
  // queued -> connecting -> writing -> reading -> writing ... ; any failure -> backoff -> queued
  enum class Phase : uint8_t { queued, connecting, writing, reading, backoff };

  struct Client {
    int fd = -1;
    Phase phase = Phase::queued;
    bool watching_out = false;  // EPOLLOUT is in the epoll interest (connecting, or a partial write)
    int64_t last_seq = 0;       // last message sequence number seen (sequence_check.h)
    std::string pending;
  };

  void start_connects(int64_t now);
  int64_t wait_timeout(int64_t now) const;
  void on_event(uint32_t index, uint32_t events, int64_t now);
  void flush_request(uint32_t index);
  void on_readable(uint32_t index, int64_t now);
  void emit_progress(int64_t now);
  // The result so far, as one stdout line (SIGUSR2); latency starts afresh after it, so each
  // snapshot's histogram covers what arrived since the previous one.
  void emit_snapshot(int64_t now);
  std::string result_json(int64_t now, bool snapshot) const;

  static constexpr size_t kReadSize = 65536;

  const Options& options_;
  const char* name_;
  FleetMode& mode_;
  std::vector<Client> clients_;
  EventLoop loop_;
  sockaddr_in destination_{};
  std::deque<uint32_t> connect_queue_;
  std::deque<std::pair<int64_t, uint32_t>> backoff_queue_;  // (due time, client): FIFO, one delay
  char read_buffer_[kReadSize];

  int64_t next_connect_ns_ = 0;  // --connect-rate pacing
  uint32_t connecting_ = 0;
  uint32_t connected_ = 0;
  uint64_t connects_ = 0;
  uint64_t requests_ = 0;
  DeliveryCounts delivery_;
  FleetErrors errors_;
  Histogram latency_;
  int64_t start_ns_ = 0;
  int64_t first_receive_ns_ = 0;
  int64_t last_receive_ns_ = 0;
};

}  // namespace loadgen
