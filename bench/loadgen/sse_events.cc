#include "sse_events.h"

#include "poll_body.h"

namespace loadgen {

namespace {

bool parse_id(std::string_view digits, int64_t& out) {
  if (digits.empty() || digits.size() > 16) return false;
  int64_t v = 0;
  for (char ch : digits) {
    if (ch < '0' || ch > '9') return false;
    v = v * 10 + (ch - '0');
  }
  out = v;
  return true;
}

void read_line(std::string_view line, SseEventState& state, SseSink& sink) {
  if (line.empty()) {
    if (state.replaced) {
      sink.on_replaced();
    } else if (state.has_data) {
      sink.on_event(state.id, state.message);
    }
    state.has_data = false;
    state.replaced = false;
    return;
  }
  if (line.front() == ':') {
    sink.on_comment();
    return;
  }
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (!state.replaced && !parse_message_body(value, state.message)) {
      sink.on_malformed();
      return;
    }
    state.has_data = true;
  } else if (field == "id") {
    if (!parse_id(value, state.id)) sink.on_malformed();
  } else if (field == "event") {
    state.replaced = value == "replaced";
  } else if (field != "retry") {
    sink.on_malformed();
  }
}

}  // namespace

size_t read_sse(std::string_view bytes, SseEventState& state, SseSink& sink) {
  size_t start = 0;
  for (;;) {
    const size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) return start;
    read_line(bytes.substr(start, end - start), state, sink);
    start = end + 1;
  }
}

}  // namespace loadgen
