#include "doorbell.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <uv.h>

#include <cstdint>

#include "js_callback.h"

namespace megacomet {

int doorbell_create() { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }

bool doorbell_ring(int fd) {
  const std::uint64_t one = 1;
  for (;;) {
    if (write(fd, &one, sizeof one) == static_cast<ssize_t>(sizeof one)) return true;
    // EAGAIN: the counter is at its maximum, so the watcher is rung already.
    if (errno == EAGAIN) return true;
    if (errno != EINTR) return false;
  }
}

// The libuv side of one watcher, alive from construction until libuv has closed the poll
// handle. The environment's teardown (a worker thread ending) may come before close(): its
// async cleanup hook closes the handle then, while the loop still runs.
struct WatchHandles {
  uv_poll_t poll;
  int fd;
  DoorbellWatcher* owner;  // null once closing has started: late callbacks do nothing
  napi_async_cleanup_hook_handle hook = nullptr;
};

namespace {

void on_closed(uv_handle_t* h) {
  auto* hs = static_cast<WatchHandles*>(h->data);
  if (hs->hook != nullptr) napi_remove_async_cleanup_hook(hs->hook);
  delete hs;
}

void begin_close(WatchHandles* hs) {
  if (hs->owner == nullptr) return;
  hs->owner->forget_handles();
  hs->owner = nullptr;
  uv_poll_stop(&hs->poll);
  uv_close(reinterpret_cast<uv_handle_t*>(&hs->poll), on_closed);
}

void on_teardown(napi_async_cleanup_hook_handle /*handle*/, void* arg) { begin_close(static_cast<WatchHandles*>(arg)); }

void on_readable(uv_poll_t* h, int /*status*/, int /*events*/) {
  auto* hs = static_cast<WatchHandles*>(h->data);
  // Reading resets the counter: every ring before this point is answered by this one call.
  std::uint64_t count = 0;
  while (read(hs->fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
  if (hs->owner != nullptr) hs->owner->rung();
}

}  // namespace

Napi::Function DoorbellWatcher::Define(Napi::Env env) {
  return DefineClass(env, "DoorbellWatcher",
                     {
                         InstanceMethod("keepAlive", &DoorbellWatcher::KeepAlive),
                         InstanceMethod("close", &DoorbellWatcher::Close),
                     });
}

DoorbellWatcher::DoorbellWatcher(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DoorbellWatcher>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "new DoorbellWatcher(fd, onRing): fd must be a number and onRing a function")
        .ThrowAsJavaScriptException();
    return;
  }
  const double fd = info[0].As<Napi::Number>().DoubleValue();
  if (!(fd >= 0 && fd <= 2147483647.0) || fd != static_cast<double>(static_cast<int>(fd))) {
    Napi::RangeError::New(env, "new DoorbellWatcher: fd must be a file descriptor (an integer >= 0)")
        .ThrowAsJavaScriptException();
    return;
  }
  uv_loop_s* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    Napi::Error::New(env, "new DoorbellWatcher: cannot get this thread's libuv loop").ThrowAsJavaScriptException();
    return;
  }
  auto* hs = new WatchHandles{};
  hs->fd = static_cast<int>(fd);
  hs->owner = this;
  int rc = uv_poll_init(loop, &hs->poll, hs->fd);
  if (rc != 0) {
    delete hs;
    Napi::Error::New(env, std::string("new DoorbellWatcher: cannot watch the fd: ") + uv_strerror(rc))
        .ThrowAsJavaScriptException();
    return;
  }
  hs->poll.data = hs;
  // From here on the handle is initialised and must be closed, never deleted.
  handles_ = hs;
  rc = uv_poll_start(&hs->poll, UV_READABLE, on_readable);
  if (rc == 0 && napi_add_async_cleanup_hook(env, on_teardown, hs, &hs->hook) != napi_ok) rc = UV_ENOMEM;
  if (rc != 0) {
    CloseWatch();
    Napi::Error::New(env, std::string("new DoorbellWatcher: cannot start watching: ") + uv_strerror(rc))
        .ThrowAsJavaScriptException();
    return;
  }
  // Watching does not keep the thread alive until keepAlive(true).
  uv_unref(reinterpret_cast<uv_handle_t*>(&hs->poll));
  on_ring_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "megacomet.DoorbellWatcher");
  // libuv calls into this object until close(): it must not be collected before.
  Ref();
  referenced_ = true;
}

DoorbellWatcher::~DoorbellWatcher() { CloseWatch(); }

void DoorbellWatcher::CloseWatch() {
  if (handles_ != nullptr) begin_close(handles_);
}

Napi::Value DoorbellWatcher::KeepAlive(const Napi::CallbackInfo& info) {
  if (handles_ != nullptr && handles_->owner != nullptr) {
    auto* h = reinterpret_cast<uv_handle_t*>(&handles_->poll);
    if (info.Length() > 0 && info[0].ToBoolean().Value()) {
      uv_ref(h);
    } else {
      uv_unref(h);
    }
  }
  return info.Env().Undefined();
}

Napi::Value DoorbellWatcher::Close(const Napi::CallbackInfo& info) {
  CloseWatch();
  if (referenced_) {
    referenced_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

void DoorbellWatcher::rung() {
  call_js_from_loop(Env(), static_cast<napi_ref>(*this), static_cast<napi_ref>(on_ring_), *async_context_,
                    [](napi_env, napi_value*) { return 0; });
}

}  // namespace megacomet
