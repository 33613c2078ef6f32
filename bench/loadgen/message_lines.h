// Writing the app protocol's send lines whose data the pollers can check.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace loadgen {

// Appends {"op":"send","client":"<prefix><id>","data":{"t":<t>,"s":<s>}}\n.
// `t` is the send time (CLOCK_MONOTONIC ns), `s` the client's sequence number.
void append_send_line(std::string& out, std::string_view prefix, uint32_t id, int64_t t, int64_t s);

// Appends {"op":"send","clients":[<ids_json>],"data":{"t":<t>,"s":<s>}}\n, where `ids_json` is
// a list built once by quoted_ids().
void append_fanout_line(std::string& out, std::string_view ids_json, int64_t t, int64_t s);

// Appends {"op":"publish","group":"<group>","data":{"t":<t>,"s":<s>}}\n (a group name needs no escaping).
void append_publish_line(std::string& out, std::string_view group, int64_t t, int64_t s);

// "<prefix><first>","<prefix><first+1>",... for `count` ids (the inside of a JSON array).
std::string quoted_ids(std::string_view prefix, uint32_t first, uint32_t count);

// Client indices [first, first + count) of one fan-out line.
struct ClientRange {
  uint32_t first;
  uint32_t count;
};

// The lines of one fan-out round: clients 0 .. clients-1 in order, at most `group` per line, so
// a round names every client exactly once. Empty if clients or group is 0.
std::vector<ClientRange> fanout_ranges(uint32_t clients, uint32_t group);

// The client of the k-th single message (k from 0) with --order sequential: every client once
// per `clients` messages, in order.
inline uint32_t sequential_client(uint64_t k, uint32_t clients) {
  return static_cast<uint32_t>(k % clients);
}

}  // namespace loadgen
