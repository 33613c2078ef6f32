#include "tcp_connect.h"

#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>

namespace loadgen {

bool make_address(const std::string& host, uint16_t port, sockaddr_in& out) {
  out = sockaddr_in{};
  out.sin_family = AF_INET;
  out.sin_port = htons(port);
  return inet_pton(AF_INET, host.c_str(), &out.sin_addr) == 1;
}

int start_connect(const sockaddr_in& destination, uint32_t source_octet) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (source_octet != 0) {
    // Without IP_BIND_ADDRESS_NO_PORT, bind() picks the port at once and must keep it unique for
    // any destination, which caps one source address far below the 4-tuple limit. With it the
    // port is chosen at connect() time, knowing the destination.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr = htonl((127u << 24) | source_octet);
    if (bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof source) != 0) {
      const int saved = errno;
      close(fd);
      errno = saved;
      return -1;
    }
  }
  if (connect(fd, reinterpret_cast<const sockaddr*>(&destination), sizeof destination) != 0 &&
      errno != EINPROGRESS) {
    const int saved = errno;
    close(fd);
    errno = saved;
    return -1;
  }
  return fd;
}

int connect_result(int fd) {
  int error = 0;
  socklen_t length = sizeof error;
  if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

}  // namespace loadgen
