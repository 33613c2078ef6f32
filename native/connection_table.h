// Compact per-connection records in one lazily backed array, and the handle
// generations that keep a late response from reaching the wrong socket.
//
// Records are indexed by a slot number, not by fd. Every worker thread has its
// own engine and table, while fds are numbered process-wide: a table indexed by
// fd would have each of N workers touch pages across the whole fd range (N times
// the memory). A slot table stays dense per worker: free slots are reused last
// freed first, so the touched pages are about connections * sizeof(Connection).
// The epoll registration carries the slot; the record carries the fd.
//
// The array is one mmap(MAP_NORESERVE) sized to the capacity: untouched pages
// cost no memory, so reserving for a million connections is free until used.
#pragma once

#include <sys/uio.h>

#include <cstddef>
#include <cstdint>

#include "timer_wheel.h"

namespace megacomet {

// Handles are gen * 2^24 + slot, and stay below 2^53 (a JS safe integer).
inline constexpr std::uint32_t kSlotBits = 24;
inline constexpr std::uint32_t kMaxSlots = (1u << kSlotBits) - 1;
inline constexpr std::uint32_t kGenSpan = 1u << 29;
inline constexpr std::uint32_t kNoSlot = 0xFFFFFFFFu;

// Next generation after `gen`: wraps below kGenSpan and skips 0, so gen 0 never
// names a live request.
inline std::uint32_t next_generation(std::uint32_t gen) {
  std::uint32_t g = (gen + 1) & (kGenSpan - 1);
  return g == 0 ? 1 : g;
}

enum class ConnState : std::uint8_t {
  kFree = 0,
  kHead,         // waiting for / reading a request head (keep-alive idle included)
  kOutstanding,  // a request was reported to JS and is not answered yet
  kWriting,      // the response is partly written; the rest waits for EPOLLOUT
  kLingering,    // answered and closing: write side shut, input drained until EOF or timeout
  kStreaming,    // an event stream: head sent, events written as they come (event_stream.cc)
};

// Per-connection flags (Connection::flags).
enum ConnFlag : std::uint8_t {
  kKeepAlive = 1 << 0,        // the outstanding request allows keep-alive
  kHttp10 = 1 << 1,           // it is HTTP/1.0 (keep-alive must then be said explicitly)
  kHeadRequest = 1 << 2,      // it is a HEAD request: the body is not sent
  kHeld = 1 << 3,             // hold() was called for it
  kReadPending = 1 << 4,      // edge-triggered: the kernel may hold bytes we have not read
  kPeerClosed = 1 << 5,       // EPOLLRDHUP seen: the peer sends nothing more
  kCloseAfterWrite = 1 << 6,  // close once the pending output is written
  kDeferred = 1 << 7,         // queued for work on the next idle pass
};

// Bytes a connection must keep between events: a partial head, pipelined bytes
// read behind an outstanding request, or an unsent response. Allocated only while
// there is something to keep; `discard` (input only) counts request-body bytes
// still to drop.
struct ByteBuffer {
  std::uint32_t len;      // bytes held, starting at data + off
  std::uint32_t off;      // bytes already consumed (output: already sent)
  std::uint32_t cap;      // bytes data can hold
  std::uint32_t discard;  // input only: request-body bytes still to read and drop
  char data[1];           // really cap bytes

  char* begin() { return data + off; }
};

// Buffers are sized in steps of this, to spare reallocation.
inline constexpr std::size_t kByteBufferStep = 256;

// A buffer with room for `cap` bytes (rounded up to kByteBufferStep), empty; null
// if out of memory. Freed with std::free.
ByteBuffer* byte_buffer_new(std::size_t cap);
// Appends n bytes to *b, creating or growing it (moving it: *b is updated).
// False if out of memory (*b is then unchanged).
bool byte_buffer_append(ByteBuffer** b, const char* data, std::size_t n);
// Appends what the socket did not take of a gathered write: the bytes of
// iov[0..count) after the first `skip` (*b, if null, is made the exact size).
// False if out of memory (*b may then hold part of them).
bool byte_buffer_append_rest(ByteBuffer** b, const iovec* iov, int count, std::size_t skip);
// Frees *b and sets it to null once it holds nothing and has nothing left to drop.
void byte_buffer_release_if_empty(ByteBuffer** b);

// 40 bytes: the whole per-connection cost while no bytes are held.
struct Connection {
  std::int32_t fd;
  std::uint32_t gen;
  TimerNode timer;  // links into the engine's wheel; next doubles as the free-list link
  ConnState state;
  std::uint8_t flags;
  std::uint16_t reserved;  // kStreaming: heartbeats in a row that found unsent bytes and no progress
  ByteBuffer* in;
  ByteBuffer* out;

  bool has(std::uint8_t f) const { return (flags & f) != 0; }
};
static_assert(sizeof(Connection) == 40, "keep the connection record compact");

class ConnectionTable {
 public:
  ConnectionTable() = default;
  ~ConnectionTable();
  ConnectionTable(const ConnectionTable&) = delete;
  ConnectionTable& operator=(const ConnectionTable&) = delete;

  // Reserves address space for `capacity` records (capped at kMaxSlots). Returns
  // false if the mapping fails (errno set).
  bool init(std::uint32_t capacity);

  std::uint32_t capacity() const { return capacity_; }
  // One past the highest slot ever handed out: scans stop here.
  std::uint32_t high_water() const { return high_water_; }
  Connection* records() const { return records_; }
  Connection& at(std::uint32_t slot) const { return records_[slot]; }
  // True if `slot` is within the table and its record is in use.
  bool live(std::uint32_t slot) const {
    return slot < high_water_ && records_[slot].state != ConnState::kFree;
  }

  // Takes a free slot for socket `fd`, bumps its generation and sets it to kHead
  // with no flags and no buffers. Returns kNoSlot when the table is full.
  std::uint32_t acquire(std::int32_t fd);
  // Marks `slot` free. It becomes reusable only after recycle(): until then an
  // epoll event already fetched for the old socket can still name the slot, and
  // must find it free instead of finding a new connection there. The caller has
  // released the buffers, closed the fd and cancelled the timer.
  void release(std::uint32_t slot);
  // Makes the slots released since the last call reusable. Call it where no epoll
  // events are in hand (before each epoll_wait batch).
  void recycle();

 private:
  Connection* records_ = nullptr;
  std::size_t mapped_bytes_ = 0;
  std::uint32_t capacity_ = 0;
  std::uint32_t high_water_ = 0;
  std::uint32_t free_head_ = kNoSlot;      // reusable now
  std::uint32_t released_head_ = kNoSlot;  // released since the last recycle()
  std::uint32_t released_tail_ = kNoSlot;
};

}  // namespace megacomet
