// How the engine names a failed system call in its error messages. The messages
// reach a person (through Engine.listen's exception), so they carry both the
// symbol to search for and the sentence to read.
#pragma once

#include <string.h>

#include <string>

namespace megacomet {

// "EADDRINUSE (Address already in use)" for errno `err`.
inline std::string describe_errno(int err) {
  const char* name = strerrorname_np(err);
  std::string s = name != nullptr ? name : "errno " + std::to_string(err);
  s += " (";
  s += strerrordesc_np(err) != nullptr ? strerrordesc_np(err) : "unknown error";
  s += ")";
  return s;
}

}  // namespace megacomet
