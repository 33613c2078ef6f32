// Turns SIGTERM, SIGINT and SIGUSR1 into a "finish now" flag that every event loop checks.
#pragma once

namespace loadgen {

// Installs the handlers without SA_RESTART, so a blocked epoll wait returns EINTR at once, and
// ignores SIGPIPE (a write to a socket the server closed must be an error we count, not death).
void install_stop_signals();

// True once one of the signals arrived: the mode stops its work, prints its result and exits.
bool stop_requested();

}  // namespace loadgen
