// Calling a JS function from a libuv callback (the engine's event batch, a doorbell's ring):
// the one place that knows how to do it safely.
//
// The plain C API on purpose: node-addon-api turns a failed call into a fatal error when C++
// exceptions are off, and calls do fail while a worker is being terminated (no JS may run
// then); here a failure just skips the call. MakeCallback (not Call): process.nextTick
// callbacks and microtasks run after it, as after any I/O callback, and the async_hooks
// context is kept. An exception nobody above us can catch becomes this thread's uncaught
// exception (a worker then emits 'error'); napi_fatal_exception does nothing while the
// environment is being torn down.
#pragma once

#include <napi.h>

#include <cstddef>

namespace megacomet {

// Calls `callback` with `self` as `this` and the arguments `make_args(env, argv)` writes
// (at most kMaxArgs; it returns how many, or a negative number to skip the call).
inline constexpr std::size_t kMaxCallbackArgs = 4;

template <typename MakeArgs>
void call_js_from_loop(napi_env env, napi_ref self_ref, napi_ref callback_ref, napi_async_context context,
                       MakeArgs make_args) {
  napi_handle_scope scope;
  if (napi_open_handle_scope(env, &scope) != napi_ok) return;
  napi_value self = nullptr;
  napi_value callback = nullptr;
  napi_value argv[kMaxCallbackArgs] = {};
  if (napi_get_reference_value(env, self_ref, &self) == napi_ok &&
      napi_get_reference_value(env, callback_ref, &callback) == napi_ok) {
    const int argc = make_args(env, argv);
    if (argc >= 0) {
      napi_value result;
      napi_status status = napi_make_callback(env, context, self, callback, static_cast<std::size_t>(argc), argv, &result);
      napi_value error;
      if (status == napi_pending_exception && napi_get_and_clear_last_exception(env, &error) == napi_ok) {
        napi_fatal_exception(env, error);
      }
    }
  }
  napi_close_handle_scope(env, scope);
}

}  // namespace megacomet
