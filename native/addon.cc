// Module entry: one instance per Node environment (main thread or worker), so
// nothing here is global and the addon loads in any number of worker threads.
#include <napi.h>

#include "engine.h"
#include "acceptor.h"

namespace megacomet {

class Addon : public Napi::Addon<Addon> {
 public:
  Addon(Napi::Env env, Napi::Object exports) {
    DefineAddon(exports, {
                             InstanceValue("Engine", Engine::Define(env), napi_enumerable),
                             InstanceMethod("raiseFileLimit", &Addon::RaiseFileLimit, napi_enumerable),
                         });
  }

 private:
  Napi::Value RaiseFileLimit(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(raise_file_limit()));
  }
};

}  // namespace megacomet

// The macro pastes its argument into an identifier: it needs an unqualified name.
using megacomet::Addon;
NODE_API_ADDON(Addon)
