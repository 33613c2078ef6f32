#include "poll_body.h"

#include "json_scan.h"

namespace loadgen {

namespace {

// One element of "messages": our {"t":..,"s":..} or anything else (then t = s = -1).
bool read_message(JsonScan& scan, PolledMessage& out) {
  out = PolledMessage{};
  if (!scan.take('{')) return scan.skip_value();
  if (scan.take('}')) return true;
  do {
    std::string_view key;
    if (!scan.string(key) || !scan.expect(':')) return false;
    if (key == "t" || key == "s") {
      int64_t v = 0;
      if (!scan.integer(v)) return false;
      (key == "t" ? out.t : out.s) = v;
    } else if (!scan.skip_value()) {
      return false;
    }
  } while (scan.take(','));
  return scan.expect('}');
}

}  // namespace

bool parse_message_body(std::string_view body, PolledMessage& out) {
  JsonScan scan(body);
  return read_message(scan, out) && scan.at_end();
}

bool parse_poll_body(std::string_view body, int64_t& cursor, std::vector<PolledMessage>& messages) {
  messages.clear();
  JsonScan scan(body);
  bool have_cursor = false;
  bool have_messages = false;
  if (!scan.expect('{')) return false;
  if (scan.take('}')) return false;
  do {
    std::string_view key;
    if (!scan.string(key) || !scan.expect(':')) return false;
    if (key == "cursor") {
      if (!scan.integer(cursor) || cursor < 0) return false;
      have_cursor = true;
    } else if (key == "messages") {
      if (!scan.expect('[')) return false;
      if (!scan.take(']')) {
        do {
          PolledMessage m;
          if (!read_message(scan, m)) return false;
          messages.push_back(m);
        } while (scan.take(','));
        if (!scan.expect(']')) return false;
      }
      have_messages = true;
    } else if (!scan.skip_value()) {
      return false;
    }
  } while (scan.take(','));
  return scan.expect('}') && scan.at_end() && have_cursor && have_messages;
}

}  // namespace loadgen
