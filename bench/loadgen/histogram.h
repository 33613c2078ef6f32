// A fixed log-linear histogram of nanosecond values that processes can merge by bucket index.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace loadgen {

// Values below 128 have a bucket each; above, every power of two is split into 64 equal
// buckets, so a bucket is at most 1/64 (1.6%) of its value wide. The layout is fixed and known
// to the runner (bench/lib/histogram.ts mirrors index_of/lowest_of), so results of several
// generator processes merge by adding counts of equal indices. An HdrHistogram would do the
// same with more code; we need neither its auto-resizing nor its compressed encoding.
class Histogram {
 public:
  static constexpr int kSubBits = 6;
  static constexpr int kSubCount = 1 << kSubBits;  // buckets per power of two
  static constexpr int kBuckets = 59 * kSubCount;  // enough for any int64 value

  // Bucket of `value` (negative values count as 0).
  static int index_of(int64_t value);
  // Smallest value that lands in bucket `index`.
  static uint64_t lowest_of(int index);
  // Largest value that lands in bucket `index`.
  static uint64_t highest_of(int index);

  void record(int64_t value);
  void merge(const Histogram& other);

  uint64_t count() const { return count_; }
  int64_t min() const { return count_ ? min_ : 0; }
  int64_t max() const { return max_; }
  // Upper bound of the bucket holding the p-th percentile (0 < p <= 100), capped at max().
  int64_t percentile(double p) const;

  // Appends {"count":N,"min":N,"max":N,"buckets":[[index,count],...]} (only non-empty buckets).
  void append_json(std::string& out) const;

 private:
  std::array<uint64_t, kBuckets> counts_{};
  uint64_t count_ = 0;
  int64_t min_ = INT64_MAX;
  int64_t max_ = 0;
};

}  // namespace loadgen
