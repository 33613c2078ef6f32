// Writing the app protocol's send lines whose data the pollers can check.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loadgen {

// Appends {"op":"send","client":"<prefix><id>","data":{"t":<t>,"s":<s>}}\n.
// `t` is the send time (CLOCK_MONOTONIC ns), `s` the client's sequence number.
void append_send_line(std::string& out, std::string_view prefix, uint32_t id, int64_t t, int64_t s);

// Appends {"op":"send","clients":[<ids_json>],"data":{"t":<t>,"s":<s>}}\n, where `ids_json` is
// a list built once by quoted_ids().
void append_fanout_line(std::string& out, std::string_view ids_json, int64_t t, int64_t s);

// "<prefix><first>","<prefix><first+1>",... for `count` ids (the inside of a JSON array).
std::string quoted_ids(std::string_view prefix, uint32_t first, uint32_t count);

}  // namespace loadgen
