// Tuning constants of the engine (server*.cc), each with its reason.
#pragma once

#include <sys/epoll.h>

#include <cstddef>
#include <cstdint>

namespace megacomet {

// Registered once per connection at accept and never modified (see server.h).
inline constexpr std::uint32_t kConnectionEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// Every read lands in one per-thread buffer; only what must be kept (a partial
// head, pipelined bytes) is copied into a per-connection buffer. 64 KiB also
// bounds the pipelined bytes one connection can have buffered: reading stops
// behind an outstanding request, so that is at most one read's worth.
inline constexpr std::size_t kReadScratchBytes = 64 * 1024;

// After the last response on a connection the engine shuts its write side and
// reads until the peer closes, at most this long: closing with unread input
// would send RST, which can destroy the response before the peer reads it.
inline constexpr std::uint32_t kLingerMs = 2000;
// A peer that keeps sending while we linger is closed after this much.
inline constexpr std::size_t kMaxLingerBytes = 1024 * 1024;

// Fairness bounds per libuv wake-up; the epoll fd stays readable, so the rest
// is picked up on the next iteration (the listener's bound is in acceptor.h).
inline constexpr int kEpollBatch = 512;
inline constexpr int kMaxEpollRounds = 8;

}  // namespace megacomet
