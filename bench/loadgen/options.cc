#include "options.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace loadgen {

namespace {

bool parse_uint(const char* flag, const char* text, uint64_t max, uint64_t& out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || v > max) {
    std::fprintf(stderr, "loadgen: %s expects an integer from 0 to %llu, got \"%s\"\n", flag,
                 static_cast<unsigned long long>(max), text);
    return false;
  }
  out = v;
  return true;
}

bool parse_seconds(const char* flag, const char* text, double& out) {
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(text, &end);
  if (errno != 0 || end == text || *end != '\0' || !std::isfinite(v) || v < 0) {
    std::fprintf(stderr, "loadgen: %s expects a non-negative number, got \"%s\"\n", flag, text);
    return false;
  }
  out = v;
  return true;
}

template <typename T>
bool parse_into(const char* flag, const char* text, uint64_t max, T& out) {
  uint64_t v = 0;
  if (!parse_uint(flag, text, max, v)) return false;
  out = static_cast<T>(v);
  return true;
}

}  // namespace

void print_usage() {
  std::fprintf(stderr,
               "usage: loadgen poll  --port P [--host H] --clients N [--first-client K] [--prefix c]\n"
               "                     [--src-base 2] [--src-count 4] [--concurrency 256]\n"
               "                     [--connect-rate R]\n"
               "       loadgen sse   (the poll flags: event streams, GET /events, instead of polls)\n"
               "       loadgen send  --app-port Q [--app-host H] --clients N [--first-client K]\n"
               "                     --messages M [--rate R] [--window W] [--fanout G | --publish GROUP]\n"
               "                     [--order random|sequential] [--first-seq K] [--stall-seconds 15]\n"
               "                     [--publishers 8] (nchan: keep-alive publisher connections)\n"
               "       loadgen churn --port P [--host H] --rate R [--concurrency C] [--hold-ms H]\n"
               "                     [--prefix h] [--src-base 2] [--src-count 4]\n"
               "       loadgen wakecost [--messages 20000] [--rate R]  (CPU per thread wake-up)\n"
               "common: [--duration S] [--max-seconds S] [--progress S] [--protocol megacomet|nchan]\n"
               "nchan: poll --channel C makes every client GET /sub/C; send --publish C POSTs each round there\n"
               "nchan: poll GETs /sub/<id> (cursor: If-Modified-Since/If-None-Match), send POSTs\n"
               "/pub/<id> to --app-host:--app-port (the same nginx port).\n"
               "Prints one JSON result line on stdout when done; progress lines on stderr.\n"
               "send: --rate is messages/s; with --fanout it is recipients/s and each round's\n"
               "lines leave one by one at that pace.\n"
               "SIGTERM/SIGINT/SIGUSR1 end the run early, still printing the result.\n"
               "poll: SIGUSR2 prints a snapshot line (the result so far, latency since the last\n"
               "snapshot) and carries on.\n");
}

bool parse_options(int argc, char** argv, Options& out) {
  if (argc < 2) {
    print_usage();
    return false;
  }
  const char* mode = argv[1];
  if (std::strcmp(mode, "poll") == 0) {
    out.mode = Mode::poll;
  } else if (std::strcmp(mode, "send") == 0) {
    out.mode = Mode::send;
  } else if (std::strcmp(mode, "sse") == 0) {
    out.mode = Mode::sse;
  } else if (std::strcmp(mode, "churn") == 0) {
    out.mode = Mode::churn;
    out.prefix = "h";
  } else if (std::strcmp(mode, "wakecost") == 0) {
    out.mode = Mode::wakecost;
  } else {
    std::fprintf(stderr, "loadgen: unknown mode \"%s\": expected poll, sse, send, churn or wakecost\n", mode);
    print_usage();
    return false;
  }
  for (int i = 2; i < argc; i++) {
    const char* flag = argv[i];
    if (i + 1 >= argc) {
      std::fprintf(stderr, "loadgen: %s needs a value\n", flag);
      return false;
    }
    const char* value = argv[++i];
    bool ok = true;
    if (std::strcmp(flag, "--host") == 0) {
      out.host = value;
    } else if (std::strcmp(flag, "--port") == 0) {
      ok = parse_into(flag, value, 65535, out.port);
    } else if (std::strcmp(flag, "--app-host") == 0) {
      out.app_host = value;
    } else if (std::strcmp(flag, "--app-port") == 0) {
      ok = parse_into(flag, value, 65535, out.app_port);
    } else if (std::strcmp(flag, "--prefix") == 0) {
      out.prefix = value;
    } else if (std::strcmp(flag, "--clients") == 0) {
      ok = parse_into(flag, value, 10000000, out.clients);
    } else if (std::strcmp(flag, "--first-client") == 0) {
      ok = parse_into(flag, value, 1000000000, out.first_client);
    } else if (std::strcmp(flag, "--src-base") == 0) {
      ok = parse_into(flag, value, 254, out.src_base);
    } else if (std::strcmp(flag, "--src-count") == 0) {
      ok = parse_into(flag, value, 253, out.src_count);
    } else if (std::strcmp(flag, "--messages") == 0) {
      ok = parse_into(flag, value, uint64_t{1} << 40, out.messages);
    } else if (std::strcmp(flag, "--rate") == 0) {
      ok = parse_seconds(flag, value, out.rate);
    } else if (std::strcmp(flag, "--window") == 0) {
      ok = parse_into(flag, value, 1000000, out.window);
    } else if (std::strcmp(flag, "--fanout") == 0) {
      ok = parse_into(flag, value, 10000, out.fanout);
    } else if (std::strcmp(flag, "--channel") == 0) {
      out.channel = value;
    } else if (std::strcmp(flag, "--publish") == 0) {
      out.publish = value;
    } else if (std::strcmp(flag, "--order") == 0) {
      if (std::strcmp(value, "random") == 0) {
        out.order = SendOrder::random;
      } else if (std::strcmp(value, "sequential") == 0) {
        out.order = SendOrder::sequential;
      } else {
        std::fprintf(stderr, "loadgen: --order expects random or sequential, got \"%s\"\n", value);
        ok = false;
      }
    } else if (std::strcmp(flag, "--protocol") == 0) {
      if (std::strcmp(value, "megacomet") == 0) {
        out.protocol = Protocol::megacomet;
      } else if (std::strcmp(value, "nchan") == 0) {
        out.protocol = Protocol::nchan;
      } else {
        std::fprintf(stderr, "loadgen: --protocol expects megacomet or nchan, got \"%s\"\n", value);
        ok = false;
      }
    } else if (std::strcmp(flag, "--publishers") == 0) {
      ok = parse_into(flag, value, 1000, out.publishers);
    } else if (std::strcmp(flag, "--first-seq") == 0) {
      ok = parse_into(flag, value, uint64_t{1} << 40, out.first_seq);
    } else if (std::strcmp(flag, "--stall-seconds") == 0) {
      ok = parse_seconds(flag, value, out.stall_seconds);
    } else if (std::strcmp(flag, "--concurrency") == 0) {
      ok = parse_into(flag, value, 100000, out.concurrency);
    } else if (std::strcmp(flag, "--connect-rate") == 0) {
      ok = parse_seconds(flag, value, out.connect_rate);
    } else if (std::strcmp(flag, "--hold-ms") == 0) {
      ok = parse_into(flag, value, 3600000, out.hold_ms);
    } else if (std::strcmp(flag, "--duration") == 0) {
      ok = parse_seconds(flag, value, out.duration);
    } else if (std::strcmp(flag, "--max-seconds") == 0) {
      ok = parse_seconds(flag, value, out.max_seconds);
    } else if (std::strcmp(flag, "--progress") == 0) {
      ok = parse_seconds(flag, value, out.progress_interval);
    } else {
      std::fprintf(stderr, "loadgen: unknown flag %s\n", flag);
      print_usage();
      return false;
    }
    if (!ok) return false;
  }
  if (out.src_count == 0 || out.src_base + out.src_count > 255) {
    std::fprintf(stderr, "loadgen: --src-base + --src-count must stay within 127.0.0.1-254\n");
    return false;
  }
  if (!out.channel.empty() && (out.mode != Mode::poll || out.protocol != Protocol::nchan ||
                               out.channel.size() > 64 ||
                               out.channel.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:.-") !=
                                   std::string::npos)) {
    std::fprintf(stderr, "loadgen: --channel is for poll --protocol nchan: 1-64 characters of [A-Za-z0-9_:.-]\n");
    return false;
  }
  // Ids are <prefix><number>: PROTOCOL.md allows 64 bytes of [A-Za-z0-9_:-].
  if (out.prefix.size() > 40 || out.prefix.find_first_not_of(
                                    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:-") !=
                                    std::string::npos) {
    std::fprintf(stderr, "loadgen: --prefix must be at most 40 characters of [A-Za-z0-9_:-]\n");
    return false;
  }
  if (out.window == 0 || out.concurrency == 0) {
    std::fprintf(stderr, "loadgen: --window and --concurrency must be at least 1\n");
    return false;
  }
  if (out.progress_interval < 0.05) out.progress_interval = 0.05;
  switch (out.mode) {
    case Mode::poll:
    case Mode::sse:
      if (out.port == 0 || out.clients == 0) {
        std::fprintf(stderr, "loadgen poll: --port and --clients (at least 1) are required\n");
        return false;
      }
      break;
    case Mode::send:
      if (out.app_port == 0 || out.clients == 0 ||
          (out.messages == 0 && (out.rate == 0 || out.duration == 0))) {
        std::fprintf(stderr,
                     "loadgen send: --app-port, --clients and --messages (or --rate with "
                     "--duration) are required\n");
        return false;
      }
      if (out.messages == 0) out.messages = static_cast<uint64_t>(out.rate * out.duration);
      if (out.stall_seconds < 1) {
        std::fprintf(stderr, "loadgen send: --stall-seconds must be at least 1\n");
        return false;
      }
      // A group name as PROTOCOL.md allows it: written into the line as it is.
      if (out.publish.size() > 64 || out.publish.find_first_not_of(
                                         "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_:.-") !=
                                         std::string::npos) {
        std::fprintf(stderr, "loadgen send: --publish must be 1-64 characters of [A-Za-z0-9_:.-]\n");
        return false;
      }
      if (!out.publish.empty() && (out.fanout > 0 || out.order == SendOrder::sequential)) {
        std::fprintf(stderr, "loadgen send: --publish sends each round to the group; --fanout and --order do not apply\n");
        return false;
      }
      if (out.protocol == Protocol::nchan && (out.fanout > 0 || out.publishers == 0)) {
        std::fprintf(stderr,
                     "loadgen send --protocol nchan: one POST per message (no --fanout) over "
                     "--publishers connections (at least 1)\n");
        return false;
      }
      if (out.fanout > 0 && out.order == SendOrder::sequential) {
        std::fprintf(stderr,
                     "loadgen send: --order applies to single sends; --fanout already sends each "
                     "round to every client\n");
        return false;
      }
      break;
    case Mode::wakecost:
      break;
    case Mode::churn:
      if (out.protocol == Protocol::nchan) {
        std::fprintf(stderr, "loadgen churn: --protocol nchan is not supported (poll and send are)\n");
        return false;
      }
      if (out.port == 0 || out.duration == 0) {
        std::fprintf(stderr, "loadgen churn: --port and --duration are required\n");
        return false;
      }
      break;
  }
  return true;
}

}  // namespace loadgen
