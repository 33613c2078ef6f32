// The N-API boundary of the engine: the JS class `Engine` (see src/engine/binding.ts).
// It converts JS values into the plain structs of server.h (and connections.h,
// which server.h includes) and back, hands the event batch to the JS callback,
// and ties the server's lifetime to the JS object and to the Node environment
// (worker thread) it lives in. Nothing below this file sees napi.
#pragma once

#include <napi.h>

#include <cstddef>
#include <memory>

#include "server.h"

namespace megacomet {

struct Teardown;

// Grows to the largest size asked of it; reused for every conversion.
class ScratchBytes {
 public:
  char* reserve(std::size_t n);
  // Frees the memory if one large response made it big.
  void trim();

 private:
  std::unique_ptr<char[]> data_;
  std::size_t capacity_ = 0;
};

class Engine : public Napi::ObjectWrap<Engine>, private EventSink {
 public:
  static Napi::Function Define(Napi::Env env);

  explicit Engine(const Napi::CallbackInfo& info);
  ~Engine() override;

 private:
  Napi::Value Listen(const Napi::CallbackInfo& info);
  Napi::Value Respond(const Napi::CallbackInfo& info);
  Napi::Value Hold(const Napi::CallbackInfo& info);
  Napi::Value Stream(const Napi::CallbackInfo& info);
  bool BytesArg(const Napi::Value& v, const char* what, const char** data, std::size_t* len);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value End(const Napi::CallbackInfo& info);
  Napi::Value Drain(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value StatsInto(const Napi::CallbackInfo& info);
  Napi::Value GetEvents(const Napi::CallbackInfo& info);

  void deliver(std::uint32_t count, std::uint32_t bytes) override;
  void CloseServer();

  std::unique_ptr<Server> server_;
  Napi::Reference<Napi::ArrayBuffer> events_;
  Napi::FunctionReference on_events_;
  // Keeps the SharedArrayBuffer behind ServerConfig::shared_connections alive.
  Napi::Reference<Napi::Int32Array> shared_connections_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  // Owned here until closing starts, then by the close completion (see engine.cc).
  Teardown* teardown_ = nullptr;
  bool referenced_ = false;
  ScratchBytes body_;
  ScratchBytes headers_;
};

}  // namespace megacomet
