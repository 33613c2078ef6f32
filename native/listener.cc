#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>

namespace megacomet {

std::string describe_errno(int err) {
  const char* name = strerrorname_np(err);
  std::string s = name != nullptr ? name : "errno " + std::to_string(err);
  s += " (";
  s += strerrordesc_np(err) != nullptr ? strerrordesc_np(err) : "unknown error";
  s += ")";
  return s;
}

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
