// Listening sockets and the process's file-descriptor budget: plain POSIX, no
// libuv, no napi.
#pragma once

#include <cstdint>
#include <string>

namespace megacomet {

// Opens a non-blocking TCP socket bound to host:port with SO_REUSEADDR and
// SO_REUSEPORT (so one listener per worker thread can share the port; the kernel
// spreads new connections over them) and starts listening. `host` must be a
// numeric IPv4 or IPv6 address. Returns the fd, or -1 with *error saying what
// failed and what to do.
int open_listener(const std::string& host, std::uint16_t port, int backlog, std::string* error);

// The port `fd` is bound to, or -1.
int bound_port(int fd);

// Raises the soft RLIMIT_NOFILE to the hard limit (to fs.nr_open when the hard
// limit is unlimited). Returns the soft limit in force afterwards.
std::uint64_t raise_file_limit();

// "EADDRINUSE (Address already in use)" for errno `err`.
std::string describe_errno(int err);

}  // namespace megacomet
