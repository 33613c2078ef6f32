#include "progress.h"

#include <unistd.h>

#include <cstdio>

#include "clock.h"

namespace loadgen {

ProgressLine::ProgressLine(const char* mode, double elapsed_seconds) {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "progress mode=%s t=%.2f", mode, elapsed_seconds);
  text_ = buffer;
}

ProgressLine& ProgressLine::add(const char* key, uint64_t value) {
  text_ += ' ';
  text_ += key;
  text_ += '=';
  text_ += std::to_string(value);
  return *this;
}

void ProgressLine::emit() {
  text_ += '\n';
  // stderr is a pipe to the runner; a short write here would only cut one progress line.
  ssize_t ignored = write(STDERR_FILENO, text_.data(), text_.size());
  (void)ignored;
}

ProgressClock::ProgressClock(double interval_seconds) : interval_ns_(seconds_to_ns(interval_seconds)) {}

bool ProgressClock::due(int64_t now_ns) {
  if (now_ns < next_ns_) return false;
  next_ns_ = now_ns + interval_ns_;
  return true;
}

}  // namespace loadgen
