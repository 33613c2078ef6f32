// Every connection's one deadline (head read, keep-alive idle, held request,
// stalled write, lingering close: a connection is in one state at a time, so it
// needs one timer), kept in a TimerWheel whose nodes live inside the connection
// records, in ticks of kTickMs counted from start().
//
// Contract: arm() never fires early and at most one tick (plus the loop's
// lateness) late; it asks the loop for a tick at its deadline, and the owner,
// after each expire(), asks for one at next_due_ms() while anything is left. What a deadline means is the owner's
// business: expire() only hands back the slots whose time has come. Arming and
// cancelling cost no allocation and no system call.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "connection_table.h"
#include "event_loop.h"
#include "timer_wheel.h"

namespace megacomet {

// 4096 ticks of 100 ms: 409.6 s per turn, more than any timeout we use.
inline constexpr std::uint32_t kWheelSlots = 4096;
inline constexpr std::uint64_t kNoDeadline = ~std::uint64_t{0};

class ConnectionTimers {
 public:
  // `loop` gives the time and runs the tick; it outlives the timers.
  explicit ConnectionTimers(EventLoop* loop) : loop_(loop) {}
  ConnectionTimers(const ConnectionTimers&) = delete;
  ConnectionTimers& operator=(const ConnectionTimers&) = delete;

  // Lays the wheel over the table's records and starts counting ticks now. Once,
  // before any other call.
  void start(Connection* records);

  // (Re)arms `slot` to fire `ms` from now.
  void arm(std::uint32_t slot, std::uint32_t ms);
  void cancel(std::uint32_t slot) { wheel_->cancel(slot); }
  bool armed(std::uint32_t slot) const { return wheel_->scheduled(slot); }
  bool empty() const { return wheel_->size() == 0; }
  // Loop time (ms) at which expire() may next return something; kNoDeadline when nothing is armed.
  std::uint64_t next_due_ms() const;

  // Disarms and returns the slots whose deadline has come, as of the loop's
  // time. The list stays valid until the next expire(): arm() and cancel() never
  // touch it, so the caller may act on each slot while it walks the list.
  const std::vector<std::uint32_t>& expire();

 private:
  // The first tick whose start is at or after now + ms.
  std::uint32_t deadline_after(std::uint32_t ms) const;
  std::uint64_t start_of(std::uint32_t tick) const { return origin_ms_ + std::uint64_t{tick} * kTickMs; }

  EventLoop* loop_;
  std::unique_ptr<TimerWheel> wheel_;
  std::vector<std::uint32_t> expired_;  // timer ids of the current tick
  std::uint64_t origin_ms_ = 0;
};

}  // namespace megacomet
