#include "message_lines.h"

#include <charconv>

namespace loadgen {

namespace {

void append_int(std::string& out, int64_t v) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, result.ptr);
}

void append_data(std::string& out, int64_t t, int64_t s) {
  out += ",\"data\":{\"t\":";
  append_int(out, t);
  out += ",\"s\":";
  append_int(out, s);
  out += "}}\n";
}

}  // namespace

void append_send_line(std::string& out, std::string_view prefix, uint32_t id, int64_t t, int64_t s) {
  out += "{\"op\":\"send\",\"client\":\"";
  out += prefix;
  append_int(out, id);
  out += '"';
  append_data(out, t, s);
}

void append_fanout_line(std::string& out, std::string_view ids_json, int64_t t, int64_t s) {
  out += "{\"op\":\"send\",\"clients\":[";
  out += ids_json;
  out += ']';
  append_data(out, t, s);
}

void append_publish_line(std::string& out, std::string_view group, int64_t t, int64_t s) {
  out += "{\"op\":\"publish\",\"group\":\"";
  out += group;
  out += '"';
  append_data(out, t, s);
}

std::string quoted_ids(std::string_view prefix, uint32_t first, uint32_t count) {
  std::string out;
  for (uint32_t i = 0; i < count; i++) {
    if (i > 0) out += ',';
    out += '"';
    out += prefix;
    append_int(out, first + i);
    out += '"';
  }
  return out;
}

std::vector<ClientRange> fanout_ranges(uint32_t clients, uint32_t group) {
  std::vector<ClientRange> out;
  if (group == 0) return out;
  for (uint32_t first = 0; first < clients;) {
    const uint32_t count = clients - first < group ? clients - first : group;
    out.push_back(ClientRange{first, count});
    first += count;
  }
  return out;
}

}  // namespace loadgen
