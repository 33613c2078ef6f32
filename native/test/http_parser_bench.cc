// Micro benchmark of parse_request_head: requests/s and ns/request for the
// heads MegaComet sees most. Bounded: a fixed number of parses per round and
// a fixed number of rounds; the median round is reported (the best in
// brackets), because the machine is shared and single rounds are noisy.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "../http_parser.h"

namespace {

struct Workload {
  const char* description;
  std::string_view head;
  int parses_per_round;
};

const Workload kWorkloads[] = {
    {"typical poll (load generator: request line + 4 headers)",
     "GET /poll?client=abc&since=123 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
     "User-Agent: megacomet-bench/1\r\nAccept: */*\r\nConnection: keep-alive\r\n\r\n",
     2'000'000},
    {"browser poll (JSONP, 11 headers, cookie)",
     "GET /poll?client=user-1234:tab-7&since=9007199254740&callback=jQuery3600_17&_=1700000000000 "
     "HTTP/1.1\r\nHost: comet.example.com\r\nConnection: keep-alive\r\n"
     "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
     "Chrome/120.0.0.0 Safari/537.36\r\nAccept: */*\r\nSec-Fetch-Site: same-site\r\n"
     "Sec-Fetch-Mode: no-cors\r\nSec-Fetch-Dest: script\r\nReferer: https://www.example.com/app\r\n"
     "Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9,fr;q=0.8\r\n"
     "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark\r\n\r\n",
     500'000},
};

constexpr int kRounds = 7;

}  // namespace

int main() {
  static megacomet::HttpRequest request;
  std::size_t sink = 0;
  for (const Workload& w : kWorkloads) {
    std::size_t consumed = 0;
    if (megacomet::parse_request_head(w.head.data(), w.head.size(), &request, &consumed) !=
            megacomet::ParseStatus::kComplete ||
        consumed != w.head.size()) {
      std::fprintf(stderr, "bench: the \"%s\" head does not parse as one complete head\n",
                   w.description);
      return 1;
    }
    std::vector<double> ns_per_parse;
    for (int round = 0; round < kRounds; ++round) {
      const auto start = std::chrono::steady_clock::now();
      for (int i = 0; i < w.parses_per_round; ++i) {
        // The parser lives in another translation unit, so the call cannot be
        // folded away; summing consumed keeps the result live as well.
        megacomet::parse_request_head(w.head.data(), w.head.size(), &request, &consumed);
        sink += consumed;
      }
      const std::chrono::duration<double, std::nano> elapsed =
          std::chrono::steady_clock::now() - start;
      ns_per_parse.push_back(elapsed.count() / w.parses_per_round);
    }
    std::sort(ns_per_parse.begin(), ns_per_parse.end());
    const double median = ns_per_parse[ns_per_parse.size() / 2];
    const double best = ns_per_parse.front();
    std::printf("%s: %zu bytes, %d headers\n", w.description, w.head.size(),
                static_cast<int>(request.header_count));
    std::printf("  %.1f ns/request (best %.1f), %.2f M requests/s, %.0f MB/s\n", median, best,
                1e3 / median, static_cast<double>(w.head.size()) * 1e3 / median);
  }
  // Printed so the compiler must compute it; also a cheap sanity check.
  std::printf("(checksum %zu)\n", sink);
  return 0;
}
