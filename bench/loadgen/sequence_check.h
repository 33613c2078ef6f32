// What each polling client checks about the messages it receives.
#pragma once

#include <cstdint>

namespace loadgen {

struct DeliveryCounts {
  uint64_t received = 0;    // messages in poll responses, all of them
  uint64_t duplicated = 0;  // sequence number not above the last one seen: delivered again or out of order
  uint64_t gaps = 0;        // sequence numbers skipped (refused by the server, or lost)
  uint64_t foreign = 0;     // data not written by the loadgen sender (no "t"/"s")
};

// The sender numbers each client's messages 1, 2, 3, ... (fan-out: rounds 1, 2, 3, ... to every
// client), and PROTOCOL.md delivers them in send order, exactly once: so each number must be the
// previous one plus 1. A skipped number is not necessarily a loss (the server may have refused
// that send with queue_full, which the sender counts); the runner decides loss from totals:
// lost = delivered_ok (sender) - (received - duplicated) (pollers).
inline void check_sequence(int64_t& last_seen, int64_t seq, DeliveryCounts& counts) {
  counts.received++;
  if (seq < 0) {
    counts.foreign++;
    return;
  }
  if (seq <= last_seen) {
    counts.duplicated++;
    return;
  }
  counts.gaps += static_cast<uint64_t>(seq - last_seen - 1);
  last_seen = seq;
}

// The last sequence numbers of a set of clients: after a run that sent each client exactly one
// more message, every client must be at the same number (min == max, at_min == clients), and
// at_min names how many are furthest behind. Folded over the clients when a snapshot is printed.
struct SeqSpread {
  int64_t min = 0;
  int64_t max = 0;
  uint64_t at_min = 0;  // clients whose last number is min
  uint64_t clients = 0;

  void add(int64_t last_seen) {
    if (clients == 0 || last_seen < min) {
      min = last_seen;
      at_min = 0;
    }
    if (last_seen == min) at_min++;
    if (clients == 0 || last_seen > max) max = last_seen;
    clients++;
  }
};

}  // namespace loadgen
