#include "timer_wheel.h"

namespace megacomet {

TimerWheel::TimerWheel(std::uint32_t slots, void* base, std::size_t stride)
    : heads_(slots, kTimerNil), mins_(slots, kTimerNil), mask_(slots - 1), base_(static_cast<char*>(base)), stride_(stride) {}

void TimerWheel::link(std::uint32_t id, std::uint32_t slot) {
  TimerNode& n = node(id);
  n.prev = kTimerNil;
  n.next = heads_[slot];
  if (n.next != kTimerNil) node(n.next).prev = id;
  heads_[slot] = id;
  if (n.deadline < mins_[slot]) mins_[slot] = n.deadline;
}

void TimerWheel::unlink(std::uint32_t id) {
  TimerNode& n = node(id);
  if (n.prev != kTimerNil) {
    node(n.prev).next = n.next;
  } else {
    heads_[n.deadline & mask_] = n.next;
  }
  if (n.next != kTimerNil) node(n.next).prev = n.prev;
  n.prev = n.next = kTimerNil;
}

void TimerWheel::schedule(std::uint32_t id, std::uint32_t deadline) {
  if (deadline <= current_) deadline = current_ + 1;
  TimerNode& n = node(id);
  if (n.deadline != 0) {
    if (n.deadline == deadline) return;
    unlink(id);
    --size_;
  }
  n.deadline = deadline;
  link(id, deadline & mask_);
  ++size_;
}

void TimerWheel::cancel(std::uint32_t id) {
  TimerNode& n = node(id);
  if (n.deadline == 0) return;
  unlink(id);
  n.deadline = 0;
  --size_;
}

std::size_t TimerWheel::advance(std::uint32_t now, std::vector<std::uint32_t>* expired) {
  expired->clear();
  // After a stall longer than a turn, one pass over every slot is enough: each
  // visit expires everything due, whatever its turn.
  std::uint32_t steps = now > current_ ? now - current_ : 0;
  if (steps > mask_ + 1) steps = mask_ + 1;
  for (std::uint32_t s = 1; s <= steps; ++s) {
    std::uint32_t slot = (current_ + s) & mask_;
    // Nothing in this slot is due yet (the bound is never above the truth).
    if (mins_[slot] > now) continue;
    std::uint32_t earliest = kTimerNil;
    std::uint32_t id = heads_[slot];
    while (id != kTimerNil) {
      TimerNode& n = node(id);
      std::uint32_t next = n.next;
      if (n.deadline <= now) {
        unlink(id);
        n.deadline = 0;
        --size_;
        expired->push_back(id);
      } else if (n.deadline < earliest) {
        earliest = n.deadline;
      }
      id = next;
    }
    mins_[slot] = earliest;
  }
  if (now > current_) current_ = now;
  return expired->size();
}

std::uint32_t TimerWheel::next_deadline() const {
  if (size_ == 0) return kTimerNil;
  std::uint32_t earliest = kTimerNil;
  for (std::uint32_t m : mins_) earliest = m < earliest ? m : earliest;
  return earliest;
}

}  // namespace megacomet
