// Reading a poll response body: {"cursor":N,"messages":[{"t":T,"s":S},...]}.
#pragma once

#include <cstdint>
#include <string_view>
#include <vector>

namespace loadgen {

// One message as the generator's sender wrote it: `t` its send time (CLOCK_MONOTONIC ns), `s`
// its sequence number for that client (for fan-out: the round). Data the generator did not write
// has t = s = -1.
struct PolledMessage {
  int64_t t = -1;
  int64_t s = -1;
};

// Parses `body` into `cursor` and `messages` (cleared first; the caller reuses it, so a poll does
// not allocate once the vector has grown). Unknown keys at any level are skipped (the server may
// add keys). Returns false if the body is not such an object.
bool parse_poll_body(std::string_view body, int64_t& cursor, std::vector<PolledMessage>& messages);

// Parses one message as the sender wrote it, alone (Nchan answers a poll with the published
// body): {"t":T,"s":S}, unknown keys skipped; other JSON gives t = s = -1. False if not JSON.
bool parse_message_body(std::string_view body, PolledMessage& out);

}  // namespace loadgen
