#include "connection_timers.h"

namespace megacomet {

void ConnectionTimers::start(Connection* records) {
  wheel_ = std::make_unique<TimerWheel>(kWheelSlots, &records->timer, sizeof(Connection));
  expired_.reserve(1024);
  origin_ms_ = loop_->now_ms();
}

std::uint32_t ConnectionTimers::deadline_after(std::uint32_t ms) const {
  // Never early, at most one tick (plus the loop's lateness) late.
  std::uint64_t at = loop_->now_ms() - origin_ms_ + ms;
  return static_cast<std::uint32_t>((at + kTickMs - 1) / kTickMs);
}

void ConnectionTimers::arm(std::uint32_t slot, std::uint32_t ms) {
  wheel_->schedule(slot, deadline_after(ms));
  loop_->tick_at(start_of(wheel_->deadline(slot)));
}

std::uint64_t ConnectionTimers::next_due_ms() const {
  std::uint32_t tick = wheel_->next_deadline();
  return tick == kTimerNil ? kNoDeadline : start_of(tick);
}

const std::vector<std::uint32_t>& ConnectionTimers::expire() {
  std::uint32_t now = static_cast<std::uint32_t>((loop_->now_ms() - origin_ms_) / kTickMs);
  wheel_->advance(now, &expired_);
  return expired_;
}

}  // namespace megacomet
