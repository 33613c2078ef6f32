#include "acceptor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <linux/filter.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

#include "errno_text.h"

namespace megacomet {

// ---- admission --------------------------------------------------------------

// The shared counter is only ever changed with atomic read-modify-writes, so
// engines on other threads see every increment and decrement; a failed take is
// undone at once, so the count never stays above the limit.
bool Admission::take() {
  if (open_ >= max_) return false;
  if (shared_ == nullptr) return true;
  std::atomic_ref<std::int32_t> count(*shared_);
  if (count.fetch_add(1) >= static_cast<std::int32_t>(max_)) {
    count.fetch_sub(1);
    return false;
  }
  return true;
}

// ---- the acceptor -----------------------------------------------------------

Acceptor::Acceptor(const AcceptorConfig& config, EventLoop* loop, std::string_view refusal)
    : config_(config),
      loop_(loop),
      refusal_(refusal),
      admission_(config.max_connections, config.shared_connections) {}

Acceptor::~Acceptor() { close(); }

int Acceptor::open(std::string* error) {
  listen_fd_ = open_listener(config_.host, config_.port, config_.backlog, error);
  if (listen_fd_ < 0) return -1;
  if (config_.spread > 0 && !attach_spread(listen_fd_, config_.spread)) {
    *error = "cannot steer connections to " + std::to_string(config_.spread) + " listeners: " + describe_errno(errno);
    stop();
    return -1;
  }
  int port = bound_port(listen_fd_);
  if (!loop_->add(listen_fd_, EPOLLIN, kListenerData)) {
    *error = "cannot watch the listening socket: " + describe_errno(errno);
    stop();
    return -1;
  }
  return port;
}

void Acceptor::start(char* scratch, std::size_t scratch_bytes) {
  scratch_ = scratch;
  scratch_bytes_ = scratch_bytes;
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
}

void Acceptor::stop() {
  if (listen_fd_ < 0) return;
  ::close(listen_fd_);  // leaves the epoll set with it
  listen_fd_ = -1;
  paused_ = false;
}

void Acceptor::close() {
  stop();
  if (reserve_fd_ >= 0) {
    ::close(reserve_fd_);
    reserve_fd_ = -1;
  }
}

Acceptor::Step Acceptor::accept_one(int* fd) {
  int c = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
  if (c < 0) {
    switch (errno) {
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
        return Step::kNext;
      case EAGAIN:
        return Step::kStop;
      case EMFILE:
      case ENFILE:
        shed_with_reserve();
        return Step::kStop;
      default:  // ENOBUFS, ENOMEM: the kernel is short; try again next tick
        pause();
        return Step::kStop;
    }
  }
  if (!admission_.take()) {
    refuse(c);
    return Step::kNext;
  }
  *fd = c;
  return Step::kAdmitted;
}

void Acceptor::settle(int fd, Adoption adoption) {
  switch (adoption) {
    case Adoption::kAdopted:
      admission_.opened();
      ++accepted_;
      return;
    case Adoption::kNoRoom:
      admission_.give_back();
      refuse(fd);
      return;
    case Adoption::kFailed:
      ::close(fd);
      admission_.give_back();
      ++refused_;
      return;
  }
}

// Out of file descriptors: accept() fails and the listener stays readable, so a
// level-triggered loop would spin. Free the spare fd, accept one connection, tell
// it 503 and close it, take the spare back; repeat while that makes progress.
void Acceptor::shed_with_reserve() {
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    if (reserve_fd_ < 0) break;
    ::close(reserve_fd_);
    reserve_fd_ = -1;
    int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    int err = errno;
    if (fd >= 0) refuse(fd);
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      if (err == EAGAIN) return;  // backlog empty
      break;                      // another thread took the fd: wait a tick
    }
  }
  pause();
}

void Acceptor::refuse(int fd) {
  // Read what already arrived so close() sends FIN rather than RST, which could
  // destroy the 503 before the client reads it.
  ssize_t ignored = recv(fd, scratch_, scratch_bytes_, MSG_DONTWAIT);
  (void)ignored;
  ignored = send(fd, refusal_.data(), refusal_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  ::close(fd);
  ++refused_;
}

void Acceptor::pause() {
  if (listen_fd_ < 0 || paused_) return;
  loop_->modify(listen_fd_, 0, kListenerData);
  paused_ = true;
  loop_->tick_at(loop_->now_ms() + kTickMs);
}

void Acceptor::on_tick() {
  if (paused_) resume();
}

void Acceptor::resume() {
  paused_ = false;
  if (listen_fd_ >= 0) loop_->modify(listen_fd_, EPOLLIN, kListenerData);
}

// ---- the listening socket and the fd limit ----------------------------------

int open_listener(const std::string& host, std::uint16_t port, int backlog, std::string* error) {
  sockaddr_storage addr{};
  socklen_t addr_len;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(port);
    addr_len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(port);
    addr_len = sizeof(sockaddr_in6);
  } else {
    *error = "cannot listen on host \"" + host +
             "\": it must be a numeric IPv4 or IPv6 address (for example 0.0.0.0 or ::1)";
    return -1;
  }
  std::string where = host + ":" + std::to_string(port);
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = "cannot create a socket to listen on " + where + ": " + describe_errno(errno);
    return -1;
  }
  int one = 1;
  if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) != 0) {
    *error = "cannot set SO_REUSEADDR/SO_REUSEPORT to listen on " + where + ": " + describe_errno(errno);
    ::close(fd);
    return -1;
  }
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
    int err = errno;
    *error = "cannot bind " + where + ": " + describe_errno(err);
    if (err == EADDRINUSE) {
      *error += "; another process (or a socket without SO_REUSEPORT) holds the port: choose another one";
    }
    ::close(fd);
    return -1;
  }
  if (::listen(fd, backlog) != 0) {
    *error = "cannot listen on " + where + ": " + describe_errno(errno);
    ::close(fd);
    return -1;
  }
  return fd;
}

bool attach_spread(int fd, std::uint32_t spread) {
  // A = random u32; A = A % spread; return A: the index of the socket in the group.
  sock_filter code[] = {
      {BPF_LD | BPF_W | BPF_ABS, 0, 0, static_cast<std::uint32_t>(SKF_AD_OFF + SKF_AD_RANDOM)},
      {BPF_ALU | BPF_MOD | BPF_K, 0, 0, spread},
      {BPF_RET | BPF_A, 0, 0, 0},
  };
  sock_fprog program{static_cast<unsigned short>(sizeof code / sizeof code[0]), code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof program) == 0;
}

int bound_port(int fd) {
  sockaddr_storage addr{};
  socklen_t len = sizeof addr;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return -1;
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&addr)->sin_port);
  return ntohs(reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port);
}

std::uint64_t raise_file_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rlim_t target = rl.rlim_max;
  if (target == RLIM_INFINITY) {
    // The kernel refuses an unlimited RLIMIT_NOFILE; fs.nr_open is its real ceiling.
    target = 1048576;
    if (std::FILE* f = std::fopen("/proc/sys/fs/nr_open", "r")) {
      unsigned long long v = 0;
      if (std::fscanf(f, "%llu", &v) == 1 && v > 0) target = static_cast<rlim_t>(v);
      std::fclose(f);
    }
  }
  if (rl.rlim_cur < target) {
    rlimit raised = rl;
    raised.rlim_cur = target;
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl = raised;
  }
  return static_cast<std::uint64_t>(rl.rlim_cur);
}

}  // namespace megacomet
