// Module entry: one instance per Node environment (main thread or worker), so
// nothing here is global and the addon loads in any number of worker threads.
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "engine.h"
#include "acceptor.h"
#include "doorbell.h"

#include <unistd.h>

namespace megacomet {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceValue("Engine", Engine::Define(env), napi_enumerable),
                             InstanceMethod("raiseFileLimit", &Addon::RaiseFileLimit, napi_enumerable),
                             InstanceValue("DoorbellWatcher", DoorbellWatcher::Define(env), napi_enumerable),
                             InstanceMethod("createDoorbell", &Addon::CreateDoorbell, napi_enumerable),
                             InstanceMethod("ringDoorbell", &Addon::RingDoorbell, napi_enumerable),
                             InstanceMethod("closeDoorbell", &Addon::CloseDoorbell, napi_enumerable),
                         });
  }

 private:
  Napi::Value RaiseFileLimit(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(raise_file_limit()));
  }

  Napi::Value CreateDoorbell(const Napi::CallbackInfo& info) {
    int fd = doorbell_create();
    if (fd < 0) {
      Napi::Error::New(info.Env(), std::string("createDoorbell: eventfd failed: ") + strerror(errno) +
                                       " (raise the open-file limit if it is reached)")
          .ThrowAsJavaScriptException();
      return info.Env().Undefined();
    }
    return Napi::Number::New(info.Env(), fd);
  }

  // The hot path of every wake-up: no checks beyond the one conversion.
  Napi::Value RingDoorbell(const Napi::CallbackInfo& info) {
    // 0-2 are never an eventfd here (and are what a non-number reads as): never write to them.
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (fd > 2) doorbell_ring(fd);
    return info.Env().Undefined();
  }

  Napi::Value CloseDoorbell(const Napi::CallbackInfo& info) {
    int fd = info[0].As<Napi::Number>().Int32Value();
    if (fd > 2) close(fd);
    return info.Env().Undefined();
  }
};

}  // namespace megacomet

// The macro pastes its argument into an identifier: it needs an unqualified name.
using megacomet::Addon;
NODE_API_ADDON(Addon)
