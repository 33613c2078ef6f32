// A tiny self-contained test runner for the native code: no framework to
// install, one header, one binary per *_test.cc.
//
// Usage: include this header in exactly ONE .cc file per test binary (it
// defines main()), write tests with TINY_TEST, and inside them open one
// tiny_test::Case per table row:
//
//   TINY_TEST(parser_accepts_complete_heads) {
//     for (const Row& row : kRows) {
//       tiny_test::Case c("complete", row.name);
//       c.expect_eq(parse(row.input), ParseStatus::kComplete, "status");
//     }
//   }
//
// A case passes when none of its expectations failed. Each failed case prints
// one line: its name and every expectation that differed. The run ends with a
// single summary line "N passed, N failed" and exits 1 when anything failed.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <concepts>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace tiny_test {

// ---- Printing values in failure messages ---------------------------------

// Bytes as a C-like literal, control bytes escaped, cut at 80 bytes so a
// failure about an 8 KiB input stays one readable line.
inline std::string show(std::string_view bytes) {
  constexpr std::size_t kShown = 80;
  std::string text = "\"";
  for (std::size_t i = 0; i < bytes.size() && i < kShown; ++i) {
    const auto c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r') {
      text += "\\r";
    } else if (c == '\n') {
      text += "\\n";
    } else if (c == '\t') {
      text += "\\t";
    } else if (c == '"' || c == '\\') {
      text += '\\';
      text += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7F) {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      text += hex;
    } else {
      text += static_cast<char>(c);
    }
  }
  text += '"';
  if (bytes.size() > kShown) text += "...(" + std::to_string(bytes.size()) + " bytes)";
  return text;
}
inline std::string show(const char* text) { return show(std::string_view(text)); }
inline std::string show(const std::string& text) { return show(std::string_view(text)); }
inline std::string show(bool value) { return value ? "true" : "false"; }

template <typename T>
  requires(std::integral<T> && !std::same_as<T, bool>)
std::string show(T value) {
  if constexpr (std::is_signed_v<T>) return std::to_string(static_cast<long long>(value));
  return std::to_string(static_cast<unsigned long long>(value));
}

// Enums print as their number unless the test file declares a non-template
// show(TheEnum) in the enum's namespace, which argument-dependent lookup
// prefers over this template.
template <typename E>
  requires std::is_enum_v<E>
std::string show(E value) {
  return show(static_cast<std::underlying_type_t<E>>(value));
}

// ---- Results ---------------------------------------------------------------

struct Totals {
  int passed = 0;
  int failed = 0;
};

inline Totals& totals() {
  static Totals t;
  return t;
}

// One named test case. Expectations record what differed; the destructor
// counts the case and prints the failure line, so a case is always counted
// exactly once, whatever path the test takes out of its scope.
class Case {
 public:
  Case(std::string_view group, std::string_view name) : name_(group) {
    name_ += " / ";
    name_ += name;
  }
  Case(const Case&) = delete;
  Case& operator=(const Case&) = delete;
  ~Case() {
    if (problems_.empty()) {
      ++totals().passed;
      return;
    }
    ++totals().failed;
    std::printf("FAIL %s: %s\n", name_.c_str(), problems_.c_str());
    std::fflush(stdout);
  }

  // Records `what` as a failure when `ok` is false; returns ok so a caller can
  // stop before using a result that is not there.
  bool expect(bool ok, std::string_view what) {
    if (!ok) add_problem(std::string(what));
    return ok;
  }

  template <typename Got, typename Want>
  bool expect_eq(const Got& got, const Want& want, std::string_view what) {
    if (got == want) return true;
    add_problem(std::string(what) + ": expected " + show(want) + ", got " + show(got));
    return false;
  }

  void fail(std::string_view what) { add_problem(std::string(what)); }
  bool failed() const { return !problems_.empty(); }

 private:
  void add_problem(const std::string& problem) {
    if (!problems_.empty()) problems_ += "; ";
    problems_ += problem;
  }

  std::string name_;
  std::string problems_;
};

// ---- Guard page --------------------------------------------------------------

// Bytes placed so that the last one sits immediately before a PROT_NONE page:
// any read past the end of the input faults at once (and AddressSanitizer
// prints where), instead of silently reading whatever follows in the heap.
// One mapping is reused for every input.
class GuardedBuffer {
 public:
  explicit GuardedBuffer(std::size_t capacity) {
    page_ = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
    usable_ = (capacity + page_ - 1) / page_ * page_;
    void* map = mmap(nullptr, usable_ + page_, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (map == MAP_FAILED) {
      std::perror("tiny_test: mmap of the guarded buffer failed");
      std::abort();
    }
    base_ = static_cast<char*>(map);
    if (mprotect(base_ + usable_, page_, PROT_NONE) != 0) {
      std::perror("tiny_test: mprotect of the guard page failed");
      std::abort();
    }
  }
  GuardedBuffer(const GuardedBuffer&) = delete;
  GuardedBuffer& operator=(const GuardedBuffer&) = delete;
  ~GuardedBuffer() { munmap(base_, usable_ + page_); }

  // Copies `bytes` so they end at the guard page; the returned view is valid
  // until the next place().
  std::string_view place(std::string_view bytes) {
    if (bytes.size() > usable_) {
      std::fprintf(stderr, "tiny_test: input of %zu bytes exceeds the guarded buffer (%zu)\n",
                   bytes.size(), usable_);
      std::abort();
    }
    char* start = base_ + usable_ - bytes.size();
    if (!bytes.empty()) std::memcpy(start, bytes.data(), bytes.size());
    return {start, bytes.size()};
  }

 private:
  std::size_t page_ = 0;
  std::size_t usable_ = 0;
  char* base_ = nullptr;
};

// ---- Registration and main -------------------------------------------------

struct Test {
  const char* name;
  void (*run)();
};

inline std::vector<Test>& registry() {
  static std::vector<Test> tests;
  return tests;
}

struct Registrar {
  Registrar(const char* name, void (*run)()) { registry().push_back({name, run}); }
};

}  // namespace tiny_test

#define TINY_TEST(name)                                                  \
  static void name();                                                    \
  static const ::tiny_test::Registrar tiny_test_registrar_##name(#name, name); \
  static void name()

int main() {
  for (const tiny_test::Test& test : tiny_test::registry()) test.run();
  const tiny_test::Totals& t = tiny_test::totals();
  std::printf("%d passed, %d failed\n", t.passed, t.failed);
  return t.failed == 0 ? 0 : 1;
}
