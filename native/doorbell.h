// A doorbell between two threads for the rings of src/ring/: an eventfd that the
// ring's writer rings (one write(2), from any thread) and that the reader's
// libuv loop watches with one uv_poll_t, calling a JS function when rung.
//
// Why not Atomics.waitAsync: each of its wake-ups takes the one mutex V8's
// FutexEmulation shares between every thread of the process (the waker's
// notify, the sleeper's task that resolves the promise, every new wait), posts
// a task through Node's platform and resolves a promise; on a 2-core machine
// the threads then sleep on that mutex as often as on their work. An eventfd
// is per ring, its state survives until read (a ring before the reader sleeps
// is not lost), and waking a libuv loop is what Node does for its own async
// handles anyway.
//
// The fd is created and closed by whoever owns the ring (doorbell_create and
// doorbell_close), after both threads are done with it: the watcher never owns it.
#pragma once

#include <napi.h>

#include <memory>

namespace megacomet {

// A new eventfd (non-blocking, close-on-exec), or -1 with errno set.
int doorbell_create();
// Makes the watcher of `fd` run its callback once (rings coalesce until it runs). Any thread.
bool doorbell_ring(int fd);

struct WatchHandles;

// The JS class `DoorbellWatcher` (src/ring/doorbell.ts): new DoorbellWatcher(fd, onRing) watches
// `fd` on the calling thread's loop until close(); keepAlive(bool) says whether the watch keeps
// that loop (and so the thread) alive.
class DoorbellWatcher : public Napi::ObjectWrap<DoorbellWatcher> {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit DoorbellWatcher(const Napi::CallbackInfo& info);
  ~DoorbellWatcher() override;

  // Called by the poll callback: runs onRing.
  void rung();
  // Called when closing starts from either side (close() or the environment's teardown).
  void forget_handles() { handles_ = nullptr; }

 private:
  Napi::Value KeepAlive(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void CloseWatch();

  // Freed by its own close callback, so libuv may finish with it after this object is gone.
  WatchHandles* handles_ = nullptr;
  Napi::FunctionReference on_ring_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  bool referenced_ = false;
};

}  // namespace megacomet
