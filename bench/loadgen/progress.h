// The periodic "progress ..." lines every mode writes on stderr for the runner to read.
#pragma once

#include <cstdint>
#include <string>

namespace loadgen {

// A progress line is "progress mode=<m> t=<seconds> key=value ..." with integer values: the
// runner (bench/lib/loadgen-process.ts) reads the last line of each process to follow a run.
class ProgressLine {
 public:
  ProgressLine(const char* mode, double elapsed_seconds);
  ProgressLine& add(const char* key, uint64_t value);
  // Writes the line to stderr in one write, so lines of several processes never interleave.
  void emit();

 private:
  std::string text_;
};

// Tells when the next progress line is due.
class ProgressClock {
 public:
  explicit ProgressClock(double interval_seconds);
  // True at most once per interval.
  bool due(int64_t now_ns);

 private:
  int64_t interval_ns_;
  int64_t next_ns_ = 0;
};

}  // namespace loadgen
