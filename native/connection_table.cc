#include "connection_table.h"

#include <sys/mman.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace megacomet {

ByteBuffer* byte_buffer_new(std::size_t cap) {
  cap = (cap + kByteBufferStep - 1) / kByteBufferStep * kByteBufferStep;
  auto* b = static_cast<ByteBuffer*>(std::malloc(offsetof(ByteBuffer, data) + cap));
  if (b == nullptr) return nullptr;
  b->len = 0;
  b->off = 0;
  b->cap = static_cast<std::uint32_t>(cap);
  b->discard = 0;
  return b;
}

bool byte_buffer_append(ByteBuffer** slot, const char* data, std::size_t n) {
  ByteBuffer* b = *slot;
  if (b == nullptr) {
    b = byte_buffer_new(n);
    if (b == nullptr) return false;
    *slot = b;
  } else if (b->off + b->len + n > b->cap) {
    if (b->off != 0) {
      std::memmove(b->data, b->data + b->off, b->len);
      b->off = 0;
    }
    if (b->len + n > b->cap) {
      std::size_t cap = (b->len + n + kByteBufferStep - 1) / kByteBufferStep * kByteBufferStep;
      auto* grown = static_cast<ByteBuffer*>(std::realloc(b, offsetof(ByteBuffer, data) + cap));
      if (grown == nullptr) return false;
      b = grown;
      b->cap = static_cast<std::uint32_t>(cap);
      *slot = b;
    }
  }
  std::memcpy(b->data + b->off + b->len, data, n);
  b->len += static_cast<std::uint32_t>(n);
  return true;
}

bool byte_buffer_append_rest(ByteBuffer** b, const iovec* iov, int count, std::size_t skip) {
  if (*b == nullptr) {
    std::size_t rest = 0;
    for (int i = 0; i < count; ++i) rest += iov[i].iov_len;
    if (rest <= skip) return true;
    *b = byte_buffer_new(rest - skip);
    if (*b == nullptr) return false;
  }
  for (int i = 0; i < count; ++i) {
    const char* base = static_cast<const char*>(iov[i].iov_base);
    std::size_t len = iov[i].iov_len;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    if (!byte_buffer_append(b, base + skip, len - skip)) return false;
    skip = 0;
  }
  return true;
}

void byte_buffer_release_if_empty(ByteBuffer** slot) {
  ByteBuffer* b = *slot;
  if (b != nullptr && b->len == 0 && b->discard == 0) {
    std::free(b);
    *slot = nullptr;
  }
}

ConnectionTable::~ConnectionTable() {
  if (records_ != nullptr) munmap(records_, mapped_bytes_);
}

bool ConnectionTable::init(std::uint32_t capacity) {
  if (capacity > kMaxSlots) capacity = kMaxSlots;
  if (capacity == 0) capacity = 1;
  std::size_t bytes = static_cast<std::size_t>(capacity) * sizeof(Connection);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                 -1, 0);
  if (p == MAP_FAILED) return false;
  records_ = static_cast<Connection*>(p);
  mapped_bytes_ = bytes;
  capacity_ = capacity;
  return true;
}

std::uint32_t ConnectionTable::acquire(std::int32_t fd) {
  std::uint32_t slot;
  if (free_head_ != kNoSlot) {
    slot = free_head_;
    free_head_ = records_[slot].timer.next;
  } else if (high_water_ < capacity_) {
    // A fresh page reads as zeros: gen 0, state kFree.
    slot = high_water_++;
  } else {
    return kNoSlot;
  }
  Connection& c = records_[slot];
  c.fd = fd;
  c.gen = next_generation(c.gen);
  c.timer = TimerNode{};
  c.state = ConnState::kHead;
  c.flags = 0;
  c.reserved = 0;
  c.in = nullptr;
  c.out = nullptr;
  return slot;
}

void ConnectionTable::release(std::uint32_t slot) {
  Connection& c = records_[slot];
  c.fd = -1;
  c.state = ConnState::kFree;
  c.flags = 0;
  c.in = nullptr;
  c.out = nullptr;
  // The generation stays: the next acquire() bumps it, so no handle of this
  // connection can match the slot's next one.
  c.timer.prev = kTimerNil;
  c.timer.deadline = 0;
  c.timer.next = kNoSlot;
  if (released_tail_ == kNoSlot) {
    released_head_ = released_tail_ = slot;
  } else {
    records_[slot].timer.next = released_head_;
    released_head_ = slot;
  }
}

void ConnectionTable::recycle() {
  if (released_head_ == kNoSlot) return;
  records_[released_tail_].timer.next = free_head_;
  free_head_ = released_head_;
  released_head_ = released_tail_ = kNoSlot;
}

}  // namespace megacomet
