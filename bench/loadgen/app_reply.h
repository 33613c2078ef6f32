// Reading one reply line of the app protocol: {"ok":true,...} or {"ok":false,"error":"code",...}.
#pragma once

#include <string_view>

namespace loadgen {

struct AppReply {
  bool ok = false;
  // The error code when !ok ("queue_full", ...); a view into the line.
  std::string_view error;
};

// Parses `line` (without its newline). Returns false if it is not a reply object with a boolean
// "ok"; keys may come in any order and unknown ones are skipped.
bool parse_app_reply(std::string_view line, AppReply& out);

}  // namespace loadgen
