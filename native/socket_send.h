// One non-blocking gathered write to a socket, the one way the engine writes:
// a response, a stream's events. No SIGPIPE from a dead peer (MSG_NOSIGNAL).
#pragma once

#include <errno.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>

namespace megacomet {

// Bytes the socket took (0 when it would block), or -1 with errno set when it failed.
inline ssize_t send_gathered(int fd, const iovec* iov, int iov_count) {
  msghdr msg{};
  msg.msg_iov = const_cast<iovec*>(iov);
  msg.msg_iovlen = static_cast<std::size_t>(iov_count);
  ssize_t w;
  do {
    w = sendmsg(fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
  } while (w < 0 && errno == EINTR);
  if (w < 0 && errno == EAGAIN) return 0;
  return w;
}

}  // namespace megacomet
