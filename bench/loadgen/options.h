// Command line of the load generator: one struct for all modes, filled and checked in one place.
#pragma once

#include <cstdint>
#include <string>

namespace loadgen {

enum class Mode { poll, send, churn, sse, wakecost };

// Which server's wire the generator speaks (poll and send).
enum class Protocol {
  megacomet,  // PROTOCOL.md: GET /poll?client=&since=, app JSON lines (also the bench baseline)
  nchan,      // Nchan: GET /sub/<id> long-poll with If-Modified-Since/If-None-Match, POST /pub/<id>
};

// send without --fanout: which client each message goes to.
enum class SendOrder {
  random,      // a random client per message (deterministic seed)
  sequential,  // message k goes to client k % clients: --messages = --clients gives each one exactly one
};

struct Options {
  Mode mode = Mode::poll;
  Protocol protocol = Protocol::megacomet;

  // Subscriber side (poll, churn).
  std::string host = "127.0.0.1";
  uint16_t port = 0;
  // App side (send).
  std::string app_host = "127.0.0.1";
  uint16_t app_port = 0;

  // Client ids are <prefix><first_client + i> for i in [0, clients).
  std::string prefix = "c";
  uint32_t clients = 0;
  uint32_t first_client = 0;

  // Client sockets bind to 127.0.0.<src_base> ... 127.0.0.<src_base + src_count - 1>, round robin,
  // so that each source address has its own 28k ephemeral ports (ip_local_port_range).
  uint32_t src_base = 2;
  uint32_t src_count = 4;

  // send: messages (lines, or fan-out rounds); churn: not used.
  uint64_t messages = 0;
  // send: messages (or rounds) per second; churn: connections per second. 0 = as fast as
  // the window (send) or the concurrency (churn) allows.
  double rate = 0;
  // send: lines written and not yet answered, at most.
  uint32_t window = 1000;
  // send: 0 sends each message to one random client; G > 0 sends every round to all clients,
  // in lines of at most G ids ("clients":[...]).
  uint32_t fanout = 0;
  // send: non-empty sends every round as one {"op":"publish"} to this group instead; the caller
  // has put all `clients` in it (each accepted round counts one delivery per client).
  std::string publish;
  // poll --protocol nchan: non-empty makes every client subscribe to this one channel (the
  // broadcast scenario's peer of a MegaComet group; send --publish POSTs each round to it).
  std::string channel;
  // send without --fanout: random or sequential targets (see SendOrder).
  SendOrder order = SendOrder::random;
  // send: sequence numbers carry on after this one: each client's first message (or the first
  // fan-out round) gets first_seq + 1. A second sender to clients that already got first_seq
  // messages each starts here, so the pollers' check (sequence_check.h) still sees +1 steps.
  uint64_t first_seq = 0;
  // send --protocol nchan: keep-alive connections to the publisher, each with its share of the
  // window pipelined. A client's messages all go over one connection (client % publishers), so
  // they reach the server in order.
  uint32_t publishers = 8;
  // send: a server that answers no line for this long while lines wait is taken as stuck: the
  // sender gives up and reports, rather than hold the bench until its hard limit. A 1-vCPU VM
  // routing 10,000-id lines to a million held polls needs far more than the default.
  double stall_seconds = 15;

  // poll: connects in progress at most; churn: cycles in progress at most.
  uint32_t concurrency = 256;
  // poll: connects started per second at most (0: no limit). A connect completes for the client
  // as soon as the kernel queued it, before the server accept()ed it, so the concurrency bound
  // alone does not keep a slow server's accept queue from overflowing (dropped SYNs come back
  // only after 1, 3, 7 s of retransmission).
  double connect_rate = 0;
  // churn: 0 waits for the server's answer to the poll (its poll timeout), H > 0 closes H ms
  // after the request is written whether or not it was answered (a browser leaving the page).
  uint32_t hold_ms = 0;

  // Work ends after `duration` seconds (0: poll runs until signalled, send until every message
  // is answered); everything ends after `max_seconds` whatever happens.
  double duration = 0;
  double max_seconds = 300;
  // Seconds between progress lines on stderr.
  double progress_interval = 1.0;
};

// Fills `out` from argv. On a bad or missing flag prints what is wrong and the usage on stderr and
// returns false.
bool parse_options(int argc, char** argv, Options& out);

void print_usage();

}  // namespace loadgen
