// Turns SIGTERM, SIGINT and SIGUSR1 into a "finish now" flag that every event loop checks, and
// SIGUSR2 into a "print a snapshot" request (poll mode; the other modes ignore it).
#pragma once

namespace loadgen {

// Installs the handlers without SA_RESTART, so a blocked epoll wait returns EINTR at once, and
// ignores SIGPIPE (a write to a socket the server closed must be an error we count, not death).
void install_stop_signals();

// True once one of the signals arrived: the mode stops its work, prints its result and exits.
bool stop_requested();

// True once per SIGUSR2 received since the last call (several before a call count once).
bool take_snapshot_request();

}  // namespace loadgen
