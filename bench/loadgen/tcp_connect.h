// Opening the generator's client sockets from a chosen loopback source address.
#pragma once

#include <netinet/in.h>

#include <cstdint>
#include <string>

namespace loadgen {

// Resolves a dotted IPv4 address and port into `out`. False if `host` is not one.
bool make_address(const std::string& host, uint16_t port, sockaddr_in& out);

// Starts a non-blocking connect to `destination` from 127.0.0.<source_octet> (0: let the kernel
// choose). Returns the socket, with the connect done or in progress (EPOLLOUT tells which
// outcome; read SO_ERROR then), or -1 with errno set. TCP_NODELAY is on: every request and
// every app line must leave at once, or Nagle's 40 ms would show up as latency.
int start_connect(const sockaddr_in& destination, uint32_t source_octet);

// After EPOLLOUT on a connecting socket: 0 if connected, else the errno of the failure.
int connect_result(int fd);

// The source octet for the i-th socket: src_base + i % src_count.
inline uint32_t source_octet_for(uint64_t i, uint32_t src_base, uint32_t src_count) {
  return src_base + static_cast<uint32_t>(i % src_count);
}

}  // namespace loadgen
