#include "event_batch.h"

#include <cstring>

namespace megacomet {

void EventBatch::append(EventType type, std::uint8_t method, std::uint32_t slot, std::uint32_t gen,
                        std::string_view target, std::string_view acrh) {
  std::uint8_t* p = base_ + bytes_;
  std::uint16_t target_len = static_cast<std::uint16_t>(target.size());
  std::uint16_t acrh_len = static_cast<std::uint16_t>(acrh.size());
  std::uint16_t zero = 0;
  p[0] = static_cast<std::uint8_t>(type);
  p[1] = method;
  std::memcpy(p + 2, &target_len, 2);
  std::memcpy(p + 4, &slot, 4);
  std::memcpy(p + 8, &gen, 4);
  std::memcpy(p + 12, &acrh_len, 2);
  std::memcpy(p + 14, &zero, 2);
  if (target_len != 0) std::memcpy(p + kEventHeaderBytes, target.data(), target_len);
  if (acrh_len != 0) std::memcpy(p + kEventHeaderBytes + target_len, acrh.data(), acrh_len);
  std::size_t size = record_size(target_len, acrh_len);
  // Zero the alignment padding so the buffer never shows stale bytes.
  for (std::size_t i = kEventHeaderBytes + target_len + acrh_len; i < size; ++i) p[i] = 0;
  bytes_ += size;
  ++count_;
}

}  // namespace megacomet
