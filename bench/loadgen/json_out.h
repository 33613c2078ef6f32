// Builds the one-line JSON result each mode prints on stdout when it ends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace loadgen {

// Only what the results need: numbers, plain ASCII strings and pre-built JSON values. Not used on
// any hot path (one object per process run).
class JsonOut {
 public:
  JsonOut() : text_("{") {}

  JsonOut& number(std::string_view key, int64_t value);
  JsonOut& number(std::string_view key, uint64_t value);
  JsonOut& number(std::string_view key, double value);
  // `value` must not need escaping (mode names, error codes, host names).
  JsonOut& string(std::string_view key, std::string_view value);
  // `json` is already a complete JSON value.
  JsonOut& raw(std::string_view key, std::string_view json);

  // Closes the object and returns it; the builder is spent afterwards.
  std::string finish();

 private:
  void key(std::string_view key);
  std::string text_;
};

}  // namespace loadgen
