#include "json_scan.h"

#include <cstring>

namespace loadgen {

namespace {
// Deep nesting only occurs in foreign data; a bound keeps skip_value's recursion finite.
constexpr int kMaxDepth = 64;
}  // namespace

void JsonScan::skip_space() {
  while (p_ < end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) p_++;
}

bool JsonScan::take(char c) {
  if (!ok_) return false;
  skip_space();
  if (p_ < end_ && *p_ == c) {
    p_++;
    return true;
  }
  return false;
}

bool JsonScan::expect(char c) { return take(c) ? true : fail(); }

bool JsonScan::string(std::string_view& out) {
  if (!expect('"')) return false;
  const char* start = p_;
  while (p_ < end_ && *p_ != '"') {
    if (*p_ == '\\') p_++;
    p_++;
  }
  if (p_ >= end_) return fail();
  out = std::string_view(start, static_cast<size_t>(p_ - start));
  p_++;
  return true;
}

bool JsonScan::boolean(bool& out) {
  if (!ok_) return false;
  skip_space();
  const size_t left = static_cast<size_t>(end_ - p_);
  if (left >= 4 && std::memcmp(p_, "true", 4) == 0) {
    p_ += 4;
    out = true;
    return true;
  }
  if (left >= 5 && std::memcmp(p_, "false", 5) == 0) {
    p_ += 5;
    out = false;
    return true;
  }
  return fail();
}

bool JsonScan::integer(int64_t& out) {
  if (!ok_) return false;
  skip_space();
  bool negative = false;
  if (p_ < end_ && *p_ == '-') {
    negative = true;
    p_++;
  }
  if (p_ >= end_ || *p_ < '0' || *p_ > '9') return fail();
  int64_t v = 0;
  int digits = 0;
  while (p_ < end_ && *p_ >= '0' && *p_ <= '9') {
    if (++digits > 18) return fail();
    v = v * 10 + (*p_ - '0');
    p_++;
  }
  if (p_ < end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return fail();
  out = negative ? -v : v;
  return true;
}

bool JsonScan::skip_value() {
  // Iterative, with an explicit stack of open containers, so foreign data cannot exhaust ours.
  char open[kMaxDepth];
  int depth = 0;
  for (;;) {
    if (!ok_) return false;
    skip_space();
    if (p_ >= end_) return fail();
    const char c = *p_;
    if (c == '{' || c == '[') {
      if (depth == kMaxDepth) return fail();
      open[depth++] = c;
      p_++;
      if (take(c == '{' ? '}' : ']')) {
        depth--;
      } else {
        std::string_view key;
        if (c == '{' && (!string(key) || !expect(':'))) return false;
        continue;  // the first element or member value is read by the next turn
      }
    } else if (c == '"') {
      std::string_view ignored;
      if (!string(ignored)) return false;
    } else if (c == 't' || c == 'f' || c == 'n') {
      const char* word = c == 't' ? "true" : c == 'f' ? "false" : "null";
      const size_t n = std::strlen(word);
      if (static_cast<size_t>(end_ - p_) < n || std::memcmp(p_, word, n) != 0) return fail();
      p_ += n;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      p_++;
      while (p_ < end_ && ((*p_ >= '0' && *p_ <= '9') || *p_ == '.' || *p_ == 'e' || *p_ == 'E' ||
                           *p_ == '+' || *p_ == '-')) {
        p_++;
      }
    } else {
      return fail();
    }
    // After a value: close what ends here, or step to the next element or member.
    while (depth > 0) {
      const bool in_object = open[depth - 1] == '{';
      if (take(in_object ? '}' : ']')) {
        depth--;
        continue;
      }
      if (!expect(',')) return false;
      std::string_view key;
      if (in_object && (!string(key) || !expect(':'))) return false;
      break;
    }
    if (depth == 0) return true;
  }
}

}  // namespace loadgen
