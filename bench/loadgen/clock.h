// The one clock every loadgen process reads.
#pragma once

#include <cstdint>
#include <ctime>

namespace loadgen {

// CLOCK_MONOTONIC is shared by all processes of one machine (it is not per process), so a send
// time written into a message by the sender can be subtracted from the receive time read by a
// poller in another process. It never jumps with NTP steps, unlike CLOCK_REALTIME.
inline int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

constexpr int64_t kNsPerMs = 1000000;
constexpr int64_t kNsPerSecond = 1000000000;

inline int64_t seconds_to_ns(double seconds) { return static_cast<int64_t>(seconds * 1e9); }

}  // namespace loadgen
