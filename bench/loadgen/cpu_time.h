// The generator's own CPU use, reported with every result so that its share of the machine shows.
#pragma once

#include <sys/resource.h>

namespace loadgen {

// User + system CPU seconds of one getrusage reading.
inline double cpu_seconds_of(const rusage& usage) {
  return static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

// User + system CPU seconds this process has used so far.
inline double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return cpu_seconds_of(usage);
}

}  // namespace loadgen
