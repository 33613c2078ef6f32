// A forward-only JSON reader over a byte range: just enough to read poll bodies and app replies.
#pragma once

#include <cstdint>
#include <string_view>

namespace loadgen {

// No allocation, no unescaping: strings come back as views of their raw contents. Any method
// that meets something unexpected returns false and leaves the scanner failed (ok() == false);
// callers then count the input as malformed.
class JsonScan {
 public:
  explicit JsonScan(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool ok() const { return ok_; }
  bool at_end() {
    skip_space();
    return p_ == end_;
  }

  // Consumes `c` (after whitespace) if it is next; returns whether it was.
  bool take(char c);
  // Requires `c` next, else fails.
  bool expect(char c);
  // A string's raw contents (between the quotes, escapes left as they are).
  bool string(std::string_view& out);
  // The literal true or false.
  bool boolean(bool& out);
  // An integer without fraction or exponent (optionally negative).
  bool integer(int64_t& out);
  // Any JSON value, skipped.
  bool skip_value();

 private:
  void skip_space();
  bool fail() {
    ok_ = false;
    return false;
  }

  const char* p_;
  const char* end_;
  bool ok_ = true;
};

}  // namespace loadgen
