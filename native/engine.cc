#include "engine.h"

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

#include "connection_table.h"
#include "js_callback.h"
#include "header_text.h"

namespace megacomet {

namespace {

// The events ArrayBuffer. A REQUEST record is at most 16 + 2 * 8 KiB, so any
// record fits after a flush; 256 KiB holds thousands of typical ones.
constexpr std::size_t kEventBufferBytes = 256 * 1024;
// Conversion buffers above this are released after use.
constexpr std::size_t kScratchKeepBytes = 1024 * 1024;
constexpr double kMaxSafeInteger = 9007199254740991.0;
constexpr double kMaxTimeoutMs = 2147483647.0;
// statsInto(): connections, held, streams, accepted, refused, badRequests.
constexpr std::size_t kStatsFields = 6;

std::string describe(const Napi::Value& v) {
  if (v.IsNumber()) {
    double d = v.As<Napi::Number>().DoubleValue();
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.17g", d);
    return buf;
  }
  if (v.IsString()) return "\"" + v.As<Napi::String>().Utf8Value() + "\"";
  if (v.IsNull()) return "null";
  if (v.IsUndefined()) return "undefined";
  if (v.IsBoolean()) return v.As<Napi::Boolean>().Value() ? "true" : "false";
  if (v.IsFunction()) return "a function";
  if (v.IsArray()) return "an array";
  if (v.IsTypedArray()) return "a typed array";
  return "an object";
}

std::string range_text(double min, double max) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.0f to %.0f", min, max);
  return buf;
}

// Reads `v` as an integer in [min, max]; throws (TypeError or RangeError) naming
// `what` and returns false otherwise.
// `what` is a C string so that the hot path (respond() checks two integers per answer) builds
// no message: the text is put together only when there is an error to throw.
bool to_integer(Napi::Env env, const Napi::Value& v, const char* what, double min, double max,
                double* out) {
  const bool is_number = v.IsNumber();
  if (is_number) {
    double d = v.As<Napi::Number>().DoubleValue();
    if (d >= min && d <= max && std::trunc(d) == d) {
      *out = d;
      return true;
    }
  }
  std::string expected = std::string(what) + " must be an integer from " + range_text(min, max) + ", got " + describe(v);
  if (!is_number) {
    Napi::TypeError::New(env, expected).ThrowAsJavaScriptException();
  } else {
    Napi::RangeError::New(env, expected).ThrowAsJavaScriptException();
  }
  return false;
}

bool option_integer(Napi::Env env, const Napi::Object& options, const char* name, double min,
                    double max, double* out) {
  Napi::Value v = options.Get(name);
  if (env.IsExceptionPending()) return false;
  return to_integer(env, v, (std::string("Engine options.") + name).c_str(), min, max, out);
}

// option_integer(), or `fallback` when the option is absent.
bool optional_integer(Napi::Env env, const Napi::Object& options, const char* name, double min,
                      double max, double fallback, double* out) {
  Napi::Value v = options.Get(name);
  if (env.IsExceptionPending()) return false;
  if (v.IsUndefined()) {
    *out = fallback;
    return true;
  }
  return option_integer(env, options, name, min, max, out);
}

// Optional `sharedConnections`: an Int32Array over a SharedArrayBuffer whose
// element 0 counts the connections of every engine given the same array.
bool shared_connections_option(Napi::Env env, const Napi::Object& options, ServerConfig* cfg,
                               Napi::Reference<Napi::Int32Array>* keep) {
  Napi::Value v = options.Get("sharedConnections");
  if (v.IsUndefined()) return true;
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array ||
      v.As<Napi::Int32Array>().ElementLength() < 1) {
    Napi::TypeError::New(env, "options.sharedConnections must be an Int32Array of at least one element")
        .ThrowAsJavaScriptException();
    return false;
  }
  Napi::Int32Array counter = v.As<Napi::Int32Array>();
  *keep = Napi::Persistent(counter);
  cfg->shared_connections = counter.Data();
  return true;
}

// A string that passes is_header_text() (header_text.h): the engine writes it
// out as given, into a header or an error message. Throws and returns false
// otherwise. A contract check: the TypeScript config validates the flags first.
bool option_text(Napi::Env env, const Napi::Object& options, const char* name, std::string* out) {
  Napi::Value v = options.Get(name);
  if (env.IsExceptionPending()) return false;
  std::string expected = std::string("Engine options.") + name +
                         " must be a non-empty string of visible ASCII characters, got ";
  if (!v.IsString()) {
    Napi::TypeError::New(env, expected + describe(v)).ThrowAsJavaScriptException();
    return false;
  }
  std::string s = v.As<Napi::String>().Utf8Value();
  if (!is_header_text(s)) {
    Napi::TypeError::New(env, expected + describe(v)).ThrowAsJavaScriptException();
    return false;
  }
  *out = std::move(s);
  return true;
}

// Splits a handle (gen * 2^24 + slot) from JS. Throws a TypeError for anything
// that cannot be a handle. A generation out of range gives gen 0, which matches
// no request.
bool to_handle(Napi::Env env, const Napi::Value& v, const char* method, std::uint32_t* slot,
               std::uint32_t* gen) {
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (!(d >= 0 && d <= kMaxSafeInteger) || std::trunc(d) != d) {
    Napi::TypeError::New(env, std::string(method) +
                                  ": handle must be the non-negative integer from an event, got " +
                                  describe(v))
        .ThrowAsJavaScriptException();
    return false;
  }
  auto h = static_cast<std::uint64_t>(d);
  *slot = static_cast<std::uint32_t>(h & ((1u << kSlotBits) - 1));
  std::uint64_t g = h >> kSlotBits;
  *gen = g < kGenSpan ? static_cast<std::uint32_t>(g) : 0;
  return true;
}

}  // namespace

// ---- lifetime across environment teardown ------------------------------------
//
// Node runs an async cleanup hook when the environment (a worker thread, or the
// main one at exit) is torn down, and keeps its loop running until the hook says
// it is done: that is what lets the engine close its sockets and libuv handles
// there. The hook's argument must stay valid until then, even if the JS object
// (and the Server) is collected first, so it is this small record of its own:
// owned by the Engine until closing starts, then by the close completion, which
// removes the hook and frees it once libuv has closed every handle.
struct Teardown {
  Server* server;  // null once closing has started
  napi_async_cleanup_hook_handle hook = nullptr;
};

namespace {

void on_loop_closed(void* arg) {
  auto* t = static_cast<Teardown*>(arg);
  if (t->hook != nullptr) napi_remove_async_cleanup_hook(t->hook);
  delete t;
}

void begin_close(Teardown* t) {
  Server* server = t->server;
  t->server = nullptr;
  server->close(on_loop_closed, t);
}

void on_environment_teardown(napi_async_cleanup_hook_handle /*handle*/, void* arg) {
  auto* t = static_cast<Teardown*>(arg);
  if (t->server != nullptr) begin_close(t);
}

}  // namespace

// ---- ScratchBytes -------------------------------------------------------------

char* ScratchBytes::reserve(std::size_t n) {
  if (n > capacity_) {
    data_ = std::make_unique_for_overwrite<char[]>(n);
    capacity_ = n;
  }
  return data_.get();
}

void ScratchBytes::trim() {
  if (capacity_ > kScratchKeepBytes) {
    data_.reset();
    capacity_ = 0;
  }
}

// ---- Engine -------------------------------------------------------------------

Napi::Function Engine::Define(Napi::Env env) {
  return DefineClass(env, "Engine",
                     {
                         InstanceMethod("listen", &Engine::Listen),
                         InstanceMethod("respond", &Engine::Respond),
                         InstanceMethod("hold", &Engine::Hold),
                         InstanceMethod("stream", &Engine::Stream),
                         InstanceMethod("write", &Engine::Write),
                         InstanceMethod("end", &Engine::End),
                         InstanceMethod("drain", &Engine::Drain),
                         InstanceMethod("close", &Engine::Close),
                         InstanceMethod("stats", &Engine::Stats),
                         InstanceMethod("statsInto", &Engine::StatsInto),
                         InstanceAccessor("events", &Engine::GetEvents, nullptr),
                     });
}

Engine::Engine(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Engine>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "new Engine(options, onEvents): options must be an object and onEvents a function")
        .ThrowAsJavaScriptException();
    return;
  }
  Napi::Object o = info[0].As<Napi::Object>();
  ServerConfig cfg;
  double port, backlog, max_connections, head_timeout, keep_alive_timeout, heartbeat, max_stream_buffer, spread;
  if (!option_text(env, o, "host", &cfg.host) || !option_integer(env, o, "port", 0, 65535, &port) ||
      !option_integer(env, o, "backlog", 1, 2147483647, &backlog) ||
      !option_integer(env, o, "maxConnections", 1, 4294967295.0, &max_connections) ||
      !option_integer(env, o, "headTimeoutMs", 1, kMaxTimeoutMs, &head_timeout) ||
      !option_integer(env, o, "keepAliveTimeoutMs", 1, kMaxTimeoutMs, &keep_alive_timeout) ||
      !option_text(env, o, "corsOrigin", &cfg.cors_origin) ||
      !optional_integer(env, o, "heartbeatMs", 1, kMaxTimeoutMs, cfg.heartbeat_ms, &heartbeat) ||
      !optional_integer(env, o, "maxStreamBuffer", 1, 4294967295.0, cfg.max_stream_buffer, &max_stream_buffer) ||
      !optional_integer(env, o, "spread", 0, 4096, 0, &spread)) {
    return;
  }
  cfg.heartbeat_ms = static_cast<std::uint32_t>(heartbeat);
  cfg.max_stream_buffer = static_cast<std::uint32_t>(max_stream_buffer);
  cfg.spread = static_cast<std::uint32_t>(spread);
  cfg.port = static_cast<std::uint16_t>(port);
  cfg.backlog = static_cast<int>(backlog);
  // One engine holds at most kMaxSlots connections (handles keep 24 bits for it).
  cfg.max_connections = static_cast<std::uint32_t>(std::min<double>(max_connections, kMaxSlots));
  if (!shared_connections_option(env, o, &cfg, &shared_connections_)) return;
  cfg.head_timeout_ms = static_cast<std::uint32_t>(head_timeout);
  cfg.keep_alive_timeout_ms = static_cast<std::uint32_t>(keep_alive_timeout);

  uv_loop_s* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok || loop == nullptr) {
    Napi::Error::New(env, "new Engine: cannot get this thread's libuv loop").ThrowAsJavaScriptException();
    return;
  }
  Napi::ArrayBuffer events = Napi::ArrayBuffer::New(env, kEventBufferBytes);
  events_ = Napi::Persistent(events);
  on_events_ = Napi::Persistent(info[1].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "megacomet.Engine");
  server_ = std::make_unique<Server>(cfg, loop, static_cast<std::uint8_t*>(events.Data()),
                                     events.ByteLength(), static_cast<EventSink*>(this));
}

Engine::~Engine() {
  CloseServer();
  // Node runs finalizers from an immediate, never inside our callbacks; should
  // that change, leaking the server beats freeing it under its own stack.
  if (server_ != nullptr && server_->busy()) {
    (void)server_.release();
    return;
  }
  server_.reset();
}

void Engine::CloseServer() {
  // Once closing has started (here, or by the teardown hook), teardown_ belongs
  // to the close completion and must not be touched again.
  if (server_ == nullptr || server_->close_started()) return;
  if (teardown_ != nullptr) {
    begin_close(teardown_);
  } else {
    server_->close(nullptr, nullptr);
  }
  teardown_ = nullptr;
}

Napi::Value Engine::Listen(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string error;
  int port = server_->listen(&error);
  if (port < 0) {
    Napi::Error::New(env, "Engine.listen: " + error).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  teardown_ = new Teardown{server_.get()};
  if (napi_add_async_cleanup_hook(env, on_environment_teardown, teardown_, &teardown_->hook) != napi_ok) {
    delete teardown_;
    teardown_ = nullptr;
    server_->close(nullptr, nullptr);
    Napi::Error::New(env, "Engine.listen: cannot register the environment cleanup hook")
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  // A listening engine must not be collected: libuv calls into it.
  Ref();
  referenced_ = true;
  return Napi::Number::New(env, port);
}

Napi::Value Engine::Respond(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::uint32_t slot = 0, gen = 0;
  double status = 0, kind = 0;
  if (!to_handle(env, info[0], "respond", &slot, &gen) ||
      !to_integer(env, info[1], "respond: status", kMinStatus, kMaxStatus, &status) ||
      !to_integer(env, info[2], "respond: kind", 0, kResponseKindCount - 1, &kind)) {
    return env.Undefined();
  }
  ResponseInput r{};
  r.status = static_cast<std::uint16_t>(status);
  r.kind = static_cast<ResponseKind>(static_cast<int>(kind));

  Napi::Value body = info[3];
  if (body.IsTypedArray()) {
    // Zero-copy: the bytes are read (and any unsent rest copied) before this returns.
    // napi_get_typedarray_info also serves views of a SharedArrayBuffer.
    napi_typedarray_type type;
    std::size_t length = 0;
    void* data = nullptr;
    napi_get_typedarray_info(env, body, &type, &length, &data, nullptr, nullptr);
    if (type != napi_uint8_array) {
      Napi::TypeError::New(env, "respond: body must be a Uint8Array, a string or null, got another typed array")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    r.body = static_cast<const char*>(data);
    r.body_len = length;
  } else if (body.IsString()) {
    std::size_t length = 0;
    napi_get_value_string_utf8(env, body, nullptr, 0, &length);
    char* p = body_.reserve(length + 1);
    napi_get_value_string_utf8(env, body, p, length + 1, &length);
    r.body = p;
    r.body_len = length;
  } else if (!body.IsNull() && !body.IsUndefined()) {
    Napi::TypeError::New(env, "respond: body must be a Uint8Array, a string or null, got " + describe(body))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }

  Napi::Value extra = info[4];
  if (extra.IsString()) {
    std::size_t length = 0;
    napi_get_value_string_latin1(env, extra, nullptr, 0, &length);
    char* p = headers_.reserve(length + 1);
    napi_get_value_string_latin1(env, extra, p, length + 1, &length);
    if (length > 0 && (length < 2 || p[length - 2] != '\r' || p[length - 1] != '\n')) {
      Napi::TypeError::New(env, "respond: extraHeaders must be header lines each ending in \\r\\n, or null")
          .ThrowAsJavaScriptException();
      return env.Undefined();
    }
    r.extra_headers = p;
    r.extra_len = length;
  } else if (!extra.IsNull() && !extra.IsUndefined()) {
    Napi::TypeError::New(env, "respond: extraHeaders must be a string or null, got " + describe(extra))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }

  bool ok = server_->respond(slot, gen, r);
  body_.trim();
  headers_.trim();
  return Napi::Boolean::New(env, ok);
}

Napi::Value Engine::Hold(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::uint32_t slot = 0, gen = 0;
  if (!to_handle(env, info[0], "hold", &slot, &gen)) return env.Undefined();
  Napi::Value t = info[1];
  double ms = t.IsNumber() ? t.As<Napi::Number>().DoubleValue() : -1;
  if (!(ms >= 0)) {
    Napi::TypeError::New(env, "hold: timeoutMs must be a number of milliseconds >= 0, got " + describe(t))
        .ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto timeout = static_cast<std::uint32_t>(std::min(ms, kMaxTimeoutMs));
  return Napi::Boolean::New(env, server_->hold(slot, gen, timeout));
}

// The bytes of a Uint8Array or string argument (a string is converted into
// `scratch`), for stream() and write(). Throws and returns false otherwise.
bool Engine::BytesArg(const Napi::Value& v, const char* what, const char** data, std::size_t* len) {
  Napi::Env env = v.Env();
  if (v.IsTypedArray()) {
    napi_typedarray_type type;
    void* p = nullptr;
    napi_get_typedarray_info(env, v, &type, len, &p, nullptr, nullptr);
    if (type == napi_uint8_array) {
      *data = static_cast<const char*>(p);
      return true;
    }
  } else if (v.IsString()) {
    std::size_t n = 0;
    napi_get_value_string_utf8(env, v, nullptr, 0, &n);
    char* p = body_.reserve(n + 1);
    napi_get_value_string_utf8(env, v, p, n + 1, &n);
    *data = p;
    *len = n;
    return true;
  }
  Napi::TypeError::New(env, std::string(what) + " must be a Uint8Array or a string, got " + describe(v))
      .ThrowAsJavaScriptException();
  return false;
}

Napi::Value Engine::Stream(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::uint32_t slot = 0, gen = 0;
  const char* data = nullptr;
  std::size_t len = 0;
  if (!to_handle(env, info[0], "stream", &slot, &gen) || !BytesArg(info[1], "stream: first", &data, &len)) {
    return env.Undefined();
  }
  bool ok = server_->open_stream(slot, gen, data, len);
  body_.trim();
  return Napi::Boolean::New(env, ok);
}

Napi::Value Engine::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::uint32_t slot = 0, gen = 0;
  const char* data = nullptr;
  std::size_t len = 0;
  if (!to_handle(env, info[0], "write", &slot, &gen) || !BytesArg(info[1], "write: bytes", &data, &len)) {
    return env.Undefined();
  }
  StreamWrite result = server_->stream_write(slot, gen, data, len);
  body_.trim();
  return Napi::Number::New(env, static_cast<double>(result));
}

Napi::Value Engine::End(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::uint32_t slot = 0, gen = 0;
  if (!to_handle(env, info[0], "end", &slot, &gen)) return env.Undefined();
  return Napi::Boolean::New(env, server_->end_stream(slot, gen));
}

Napi::Value Engine::Drain(const Napi::CallbackInfo& info) {
  server_->drain();
  return info.Env().Undefined();
}

Napi::Value Engine::Close(const Napi::CallbackInfo& info) {
  CloseServer();
  if (referenced_) {
    referenced_ = false;
    Unref();
  }
  return info.Env().Undefined();
}

Napi::Value Engine::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ServerStats s = server_->stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("connections", Napi::Number::New(env, static_cast<double>(s.connections)));
  o.Set("held", Napi::Number::New(env, static_cast<double>(s.held)));
  o.Set("streams", Napi::Number::New(env, static_cast<double>(s.streams)));
  o.Set("accepted", Napi::Number::New(env, static_cast<double>(s.accepted)));
  o.Set("refused", Napi::Number::New(env, static_cast<double>(s.refused)));
  o.Set("badRequests", Napi::Number::New(env, static_cast<double>(s.bad_requests)));
  return o;
}

Napi::Value Engine::StatsInto(const Napi::CallbackInfo& info) {
  // The per-batch path of stats() (src/worker/thread.ts): no object, no property names to intern.
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float64_array ||
      info[0].As<Napi::TypedArray>().ElementLength() < kStatsFields) {
    Napi::TypeError::New(env, "statsInto(out): out must be a Float64Array of at least 6 elements").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto out = info[0].As<Napi::Float64Array>();
  ServerStats s = server_->stats();
  out[0] = static_cast<double>(s.connections);
  out[1] = static_cast<double>(s.held);
  out[2] = static_cast<double>(s.streams);
  out[3] = static_cast<double>(s.accepted);
  out[4] = static_cast<double>(s.refused);
  out[5] = static_cast<double>(s.bad_requests);
  return env.Undefined();
}

Napi::Value Engine::GetEvents(const Napi::CallbackInfo& /*info*/) { return events_.Value(); }

void Engine::deliver(std::uint32_t count, std::uint32_t bytes) {
  call_js_from_loop(Env(), static_cast<napi_ref>(*this), static_cast<napi_ref>(on_events_), *async_context_,
                    [count, bytes](napi_env env, napi_value* argv) {
                      return napi_create_uint32(env, count, &argv[0]) == napi_ok &&
                                     napi_create_uint32(env, bytes, &argv[1]) == napi_ok
                                 ? 2
                                 : -1;
                    });
}

}  // namespace megacomet
