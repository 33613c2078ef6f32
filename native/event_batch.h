// The batch of events handed to JavaScript once per loop iteration, written into
// a buffer the engine owns (the JS-visible `engine.events` ArrayBuffer).
//
// This file and src/engine/events.ts (the one JS decoder) are the two places that know the record layout
// (little-endian; every record starts on a 4-byte boundary):
//
//   0      1        2           4        8         12         14        16
//   | type | method | targetLen |  slot  |   gen   | acrhLen  | (zero)  | target | acrh |
//   |  u8  |   u8   |    u16    |  u32   |   u32   |   u16    |   u16   |        |      |
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace megacomet {

static_assert(std::endian::native == std::endian::little, "event records are little-endian");

enum class EventType : std::uint8_t { kRequest = 1, kClosed = 2, kTimeout = 3 };

inline constexpr std::size_t kEventHeaderBytes = 16;

class EventBatch {
 public:
  EventBatch(std::uint8_t* base, std::size_t capacity) : base_(base), capacity_(capacity) {}

  static std::size_t record_size(std::size_t target_len, std::size_t acrh_len) {
    return (kEventHeaderBytes + target_len + acrh_len + 3) & ~static_cast<std::size_t>(3);
  }
  bool fits(std::size_t record_bytes) const { return bytes_ + record_bytes <= capacity_; }
  std::size_t capacity() const { return capacity_; }

  // Appends one record; the caller has checked fits(record_size(...)). target and
  // acrh are each at most 65535 bytes.
  void append(EventType type, std::uint8_t method, std::uint32_t slot, std::uint32_t gen,
              std::string_view target, std::string_view acrh);

  std::uint32_t count() const { return count_; }
  std::uint32_t bytes() const { return static_cast<std::uint32_t>(bytes_); }
  bool empty() const { return count_ == 0; }
  void clear() {
    count_ = 0;
    bytes_ = 0;
  }

 private:
  std::uint8_t* base_;
  std::size_t capacity_;
  std::size_t bytes_ = 0;
  std::uint32_t count_ = 0;
};

// Receives the event batch. deliver() may call respond(), hold(), drain() and
// close() on the server; it must not return before it has read the events.
class EventSink {
 public:
  virtual void deliver(std::uint32_t count, std::uint32_t bytes) = 0;

 protected:
  ~EventSink() = default;
};

}  // namespace megacomet
