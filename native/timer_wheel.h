// A coarse hashed timer wheel with intrusive nodes.
//
// One wheel per engine serves every connection timeout (head read, keep-alive
// idle, held request, stalled write, lingering close). The nodes live inside the
// caller's records (TimerNode, 12 bytes), found by id through (base, stride), so
// scheduling never allocates and a connection costs no timer object of its own.
//
// A tick is the unit of time (the engine uses 100 ms). advance(now) visits only
// the slots of the ticks that passed, never every node: a node whose deadline is
// a whole turn of the wheel or more away sits in its slot and is skipped (one
// comparison) on each turn until it is due. With 4096 slots of 100 ms a turn is
// 409.6 s, longer than any timeout we use, so in practice every visit expires.
//
// Each slot also keeps a lower bound of its nodes' deadlines, so advance() walks
// only slots with something due and next_deadline() tells the owner when to
// look again: an engine whose earliest deadline is an hour away sleeps for an
// hour instead of waking every tick. The bound is only lowered on link and
// recomputed when its slot is walked; a cancel leaves it low, which costs at
// most one early look at that slot.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace megacomet {

inline constexpr std::uint32_t kTimerNil = 0xFFFFFFFFu;

// Embedded in the caller's record. deadline == 0 means "not scheduled".
struct TimerNode {
  std::uint32_t prev = kTimerNil;
  std::uint32_t next = kTimerNil;
  std::uint32_t deadline = 0;
};

class TimerWheel {
 public:
  // `slots` must be a power of two. Node `id` lives at base + id * stride.
  TimerWheel(std::uint32_t slots, void* base, std::size_t stride);
  TimerWheel(const TimerWheel&) = delete;
  TimerWheel& operator=(const TimerWheel&) = delete;

  // The last tick advance() processed; ticks start at 0 and deadlines at 1.
  std::uint32_t current() const { return current_; }
  // Nodes scheduled now.
  std::size_t size() const { return size_; }

  // Schedules (or reschedules) node `id` to expire at tick `deadline`. A deadline
  // that is not after current() is moved to current() + 1, the next tick advance()
  // will process, so no node is ever left behind in an already visited slot.
  void schedule(std::uint32_t id, std::uint32_t deadline);
  // Unschedules node `id`; a no-op if it is not scheduled.
  void cancel(std::uint32_t id);
  bool scheduled(std::uint32_t id) const { return node(id).deadline != 0; }
  // The tick node `id` is scheduled for; 0 when it is not.
  std::uint32_t deadline(std::uint32_t id) const { return node(id).deadline; }
  // No later than the earliest scheduled deadline (kTimerNil when none): the tick
  // at which advance() may next have something to expire. Reads one bound per slot.
  std::uint32_t next_deadline() const;

  // Processes every tick after current() up to `now`, unscheduling each node whose
  // deadline has come and appending its id to `expired` (cleared first). Callers act
  // on `expired` after this returns, so their actions (which may schedule or cancel
  // any node) never run while a slot's list is being walked. Returns expired.size().
  std::size_t advance(std::uint32_t now, std::vector<std::uint32_t>* expired);

 private:
  TimerNode& node(std::uint32_t id) const {
    return *reinterpret_cast<TimerNode*>(base_ + static_cast<std::size_t>(id) * stride_);
  }
  void link(std::uint32_t id, std::uint32_t slot);
  void unlink(std::uint32_t id);

  std::vector<std::uint32_t> heads_;  // one list head per slot
  std::vector<std::uint32_t> mins_;   // per slot: at most its nodes' earliest deadline (kTimerNil: none)
  std::uint32_t mask_;
  char* base_;
  std::size_t stride_;
  std::uint32_t current_ = 0;
  std::size_t size_ = 0;
};

}  // namespace megacomet
