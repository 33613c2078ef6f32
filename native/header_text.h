// The rule for text the engine is given once and then writes out as is: the
// Access-Control-Allow-Origin value goes into every response head, the host into
// error messages. Checking it once, when the engine is created, is what lets the
// hot path copy those bytes without looking at them again.
//
// The rule is a contract check, not the user's error message: the TypeScript
// config applies the very same rule to the --cors-origin flag
// (src/protocol/header-text.ts) and refuses a bad flag with a message about the
// flag, so a user never reaches the engine's "Engine options.corsOrigin must be
// ..." error. Change the two together.
#pragma once

#include <cstddef>
#include <string_view>

namespace megacomet {

inline constexpr std::size_t kMaxHeaderTextBytes = 1024;

// True when `s` may be written into a header value (or a message) verbatim: not
// empty, at most kMaxHeaderTextBytes bytes, and every byte visible ASCII or a
// space (0x20..0x7E). That excludes CR and LF (which would end the header and
// let the value inject others), every other control byte, DEL, and the bytes of
// multi-byte UTF-8 sequences (a header value is not UTF-8).
constexpr bool is_header_text(std::string_view s) {
  if (s.empty() || s.size() > kMaxHeaderTextBytes) return false;
  for (char c : s) {
    auto ch = static_cast<unsigned char>(c);
    if (ch < 0x20 || ch > 0x7E) return false;
  }
  return true;
}

}  // namespace megacomet
