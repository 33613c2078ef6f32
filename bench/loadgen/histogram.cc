#include "histogram.h"

#include <cmath>

namespace loadgen {

int Histogram::index_of(int64_t value) {
  if (value < 2 * kSubCount) return value < 0 ? 0 : static_cast<int>(value);
  const auto v = static_cast<uint64_t>(value);
  const int msb = 63 - __builtin_clzll(v);
  const int shift = msb - kSubBits;
  return (shift + 1) * kSubCount + static_cast<int>(v >> shift) - kSubCount;
}

uint64_t Histogram::lowest_of(int index) {
  if (index < 2 * kSubCount) return static_cast<uint64_t>(index);
  const int shift = index / kSubCount - 1;
  return static_cast<uint64_t>(index % kSubCount + kSubCount) << shift;
}

uint64_t Histogram::highest_of(int index) {
  if (index < 2 * kSubCount) return static_cast<uint64_t>(index);
  const int shift = index / kSubCount - 1;
  return lowest_of(index) + ((uint64_t{1} << shift) - 1);
}

void Histogram::record(int64_t value) {
  if (value < 0) value = 0;
  counts_[static_cast<size_t>(index_of(value))]++;
  count_++;
  if (value < min_) min_ = value;
  if (value > max_) max_ = value;
}

void Histogram::merge(const Histogram& other) {
  for (size_t i = 0; i < counts_.size(); i++) counts_[i] += other.counts_[i];
  count_ += other.count_;
  if (other.count_ && other.min_ < min_) min_ = other.min_;
  if (other.max_ > max_) max_ = other.max_;
}

int64_t Histogram::percentile(double p) const {
  if (count_ == 0) return 0;
  auto rank = static_cast<uint64_t>(std::ceil(p / 100.0 * static_cast<double>(count_)));
  if (rank < 1) rank = 1;
  uint64_t seen = 0;
  for (int i = 0; i < kBuckets; i++) {
    seen += counts_[static_cast<size_t>(i)];
    if (seen >= rank) {
      const auto high = static_cast<int64_t>(highest_of(i));
      return high < max_ ? high : max_;
    }
  }
  return max_;
}

void Histogram::append_json(std::string& out) const {
  out += "{\"count\":" + std::to_string(count_) + ",\"min\":" + std::to_string(min()) +
         ",\"max\":" + std::to_string(max_) + ",\"buckets\":[";
  bool first = true;
  for (int i = 0; i < kBuckets; i++) {
    const uint64_t c = counts_[static_cast<size_t>(i)];
    if (c == 0) continue;
    if (!first) out += ',';
    first = false;
    out += '[' + std::to_string(i) + ',' + std::to_string(c) + ']';
  }
  out += "]}";
}

}  // namespace loadgen
