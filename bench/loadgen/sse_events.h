// Reading an event stream (GET /events, PROTOCOL.md section 1b) as the loadgen's SSE clients
// see it: a pure function over bytes, so the parsing is testable without sockets.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "poll_body.h"

namespace loadgen {

// Per-stream state between reads: the event being assembled.
struct SseEventState {
  int64_t id = -1;        // the current event's id: line (-1: none yet)
  PolledMessage message;  // its data: line, parsed
  bool has_data = false;
  bool replaced = false;  // its event: line says "replaced"
};

// What the lines of one read produced.
class SseSink {
 public:
  // A complete message event: its id (-1 if it had none) and its data.
  virtual void on_event(int64_t id, const PolledMessage& message) = 0;
  // The server's last event on a replaced stream.
  virtual void on_replaced() = 0;
  // A comment line (the heartbeat).
  virtual void on_comment() = 0;
  // A line that is no SSE field we know, or a data: line that is not our JSON.
  virtual void on_malformed() = 0;

 protected:
  ~SseSink() = default;
};

// Hands every complete line of `bytes` (lines end in \n; the server writes no \r) to `sink`,
// in order, and returns how many bytes it consumed: the rest is a partial line to keep.
size_t read_sse(std::string_view bytes, SseEventState& state, SseSink& sink);

}  // namespace loadgen
