// The door of one engine: its listening socket, who is let in, and what happens
// when nobody can be.
//
// - One listening socket per engine, with SO_REUSEPORT: every worker's engine
//   binds the same port and the kernel spreads new connections over them. It
//   sits in the engine's epoll set level-triggered (data kListenerData), so
//   accepting can stop after kMaxAcceptsPerWake connections per wake-up, for
//   fairness, and pick up the rest on the next one without losing any.
// - Admission: a connection is handed on only while this engine (and, given a
//   shared counter, every engine of the process together) has fewer than
//   max_connections open. Any other gets the prebuilt 503 and is closed. The
//   count is Admission's; whoever adopts a connection tells it when the
//   connection closes, which is what gives the room back.
// - Out of file descriptors accept4 fails but the listener stays readable, so a
//   level-triggered loop would spin: a spare fd is kept open and freed to accept
//   and refuse one connection at a time. If that makes no progress, or the
//   kernel is short of memory, the listener leaves the epoll set until the next
//   tick. raise_file_limit() lives here because the fd limit is what admission
//   runs into.
//
// Plain POSIX on the engine's epoll set: no libuv, no napi, no allocation per
// accept.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "event_loop.h"

namespace megacomet {

// epoll data of the listening socket; connection slots are below kMaxSlots.
inline constexpr std::uint32_t kListenerData = 0xFFFFFFFFu;

// Accepts per libuv wake-up (see above).
inline constexpr int kMaxAcceptsPerWake = 256;

struct AcceptorConfig {
  std::string host;  // a numeric IPv4 or IPv6 address
  std::uint16_t port = 0;
  int backlog = 511;
  std::uint32_t max_connections = 1;
  // When set, max_connections limits the connections of every engine sharing
  // this counter (one Int32 in a SharedArrayBuffer, owned by JS and kept alive
  // by the Engine), not this engine's alone: the kernel spreads accepts over
  // the threads unevenly, so an even per-thread split would refuse early.
  std::int32_t* shared_connections = nullptr;
  // When above 0: new connections of the port's SO_REUSEPORT group go to its
  // first `spread` listening sockets only, at random (see attach_spread).
  std::uint32_t spread = 0;
};

// Room for connections: this engine's open count against max_connections, and
// the process-wide shared counter when there is one.
class Admission {
 public:
  Admission(std::uint32_t max_connections, std::int32_t* shared_connections)
      : max_(max_connections), shared_(shared_connections) {}

  // Takes room for one connection; false, taking nothing, when there is none.
  bool take();
  // Returns room that take() gave to a connection that never opened.
  void give_back() {
    if (shared_ == nullptr) return;
    std::atomic_ref<std::int32_t>(*shared_).fetch_sub(1);
  }
  // A connection that took room is open; later, it has closed.
  void opened() { ++open_; }
  void closed() {
    --open_;
    give_back();
  }
  // The engine's hard close dropped every connection at once. The shared
  // counter is left as it is: a hard close is the engine's last act in the
  // server's shutdown, after which no engine admits against it.
  void forget_open() { open_ = 0; }

  std::uint64_t open() const { return open_; }

 private:
  std::uint32_t max_;
  std::int32_t* shared_;
  std::uint64_t open_ = 0;
};

// What the adopter did with a connection Admission let in.
enum class Adoption : std::uint8_t {
  kAdopted,  // it is the adopter's now; Admission::closed() when it ends
  kNoRoom,   // the adopter has no place for it: refuse it with the 503
  kFailed,   // the adopter could not take it: close it without a word
};

class Acceptor {
 public:
  // `loop` (the engine's epoll set) outlives the acceptor; `refusal` is the
  // complete 503 response, alive as long as the acceptor.
  Acceptor(const AcceptorConfig& config, EventLoop* loop, std::string_view refusal);
  ~Acceptor();
  Acceptor(const Acceptor&) = delete;
  Acceptor& operator=(const Acceptor&) = delete;

  // Binds, listens and adds the socket to the epoll set. Returns the bound port,
  // or -1 with *error saying what failed and what to do (and nothing left open).
  int open(std::string* error);
  // Takes the spare fd: from here on the acceptor can shed connections when out
  // of fds. `scratch` (scratch_bytes) receives what a refused peer already sent;
  // it belongs to the engine and outlives the acceptor's use of it.
  void start(char* scratch, std::size_t scratch_bytes);
  // Stops listening (drain): the socket is closed, the spare fd kept.
  void stop();
  // Stops listening and gives the spare fd back. Idempotent.
  void close();

  // The listening socket is readable: accepts up to kMaxAcceptsPerWake
  // connections and gives each one Admission lets in to `adopt(fd)`, which
  // returns an Adoption. A template so the hand-over costs no indirect call.
  template <class Adopt>
  void on_ready(Adopt&& adopt);
  // A tick: a listener paused for want of fds or memory tries again.
  void on_tick();

  Admission& admission() { return admission_; }
  std::uint64_t open() const { return admission_.open(); }
  std::uint64_t accepted() const { return accepted_; }
  std::uint64_t refused() const { return refused_; }

 private:
  enum class Step : std::uint8_t { kNext, kAdmitted, kStop };
  // One accept4 and its admission; *fd gets the connection when kAdmitted.
  Step accept_one(int* fd);
  void settle(int fd, Adoption adoption);
  void shed_with_reserve();
  void refuse(int fd);
  void pause();
  void resume();

  AcceptorConfig config_;
  EventLoop* loop_;
  std::string_view refusal_;
  Admission admission_;
  char* scratch_ = nullptr;
  std::size_t scratch_bytes_ = 0;
  int listen_fd_ = -1;
  int reserve_fd_ = -1;  // spare fd, closed to accept-and-refuse when out of fds
  bool paused_ = false;
  std::uint64_t accepted_ = 0;
  std::uint64_t refused_ = 0;
};

template <class Adopt>
void Acceptor::on_ready(Adopt&& adopt) {
  if (listen_fd_ < 0 || paused_) return;
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    int fd = -1;
    Step step = accept_one(&fd);
    if (step == Step::kStop) return;
    if (step == Step::kAdmitted) settle(fd, adopt(fd));
  }
}

// Opens a non-blocking TCP socket bound to host:port with SO_REUSEADDR and
// SO_REUSEPORT and starts listening. `host` must be a numeric IPv4 or IPv6
// address. Returns the fd, or -1 with *error saying what failed and what to do.
int open_listener(const std::string& host, std::uint16_t port, int backlog, std::string* error);
// Makes the kernel hand each new connection of fd's SO_REUSEPORT group to one of the group's
// first `spread` sockets, chosen at random, instead of spreading them over every socket: more
// engines than cores then leaves the extra ones without connections, so they never wake.
// A classic BPF program attached to the whole group; false with errno set on failure.
bool attach_spread(int fd, std::uint32_t spread);

// The port `fd` is bound to, or -1.
int bound_port(int fd);

// Raises the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the hard
// limit is unlimited). Returns the soft limit in force afterwards.
std::uint64_t raise_file_limit();

}  // namespace megacomet
