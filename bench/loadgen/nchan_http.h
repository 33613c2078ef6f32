// Nchan's wire as the bench's nginx config (bench/nchan/nginx.conf.template) sets it up: one
// channel per client id, long-poll subscribers on /sub/<id>, the HTTP publisher on /pub/<id>.
// Pure functions over strings, so `make test` covers them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "http_response.h"
#include "poll_body.h"

namespace loadgen {

inline constexpr std::string_view kNchanSubscribePath = "/sub/";
inline constexpr std::string_view kNchanPublishPath = "/pub/";

// Nchan's cursor: the Last-Modified and Etag of the last message a client received, sent back
// as If-Modified-Since and If-None-Match so that the next poll answers the message after it.
struct NchanCursor {
  std::string last_modified;
  std::string etag;

  bool empty() const { return last_modified.empty(); }
  // Takes the answer's values; false (cursor unchanged) when the head lacks either.
  bool update(const ResponseHead& head);
};

// Appends "GET /sub/<prefix><id>" (or "/sub/<channel>" when `channel` is given: clients that
// share one channel, the broadcast scenario) with the cursor's headers (none before the first
// message: the channel's oldest message answers, or the next one published).
void append_nchan_poll(std::string& out, std::string_view prefix, uint32_t id,
                       std::string_view host_port, const NchanCursor& cursor,
                       std::string_view channel = {});

// Appends "POST /pub/<prefix><id>" (or "/pub/<channel>") whose body is the message
// {"t":T,"s":S} (the same data the MegaComet send line carries).
void append_nchan_publish(std::string& out, std::string_view prefix, uint32_t id,
                          std::string_view host_port, int64_t t, int64_t s,
                          std::string_view channel = {});

enum class NchanAnswer {
  message,  // 200: one message, the body as published
  empty,    // 304 or 408: the poll ended without a message (timeout); poll again, same cursor
  error,    // anything else
};

NchanAnswer classify_nchan_poll_answer(int status);

// The publisher accepted the message: 201 (a subscriber was waiting) or 202 (queued).
inline bool nchan_published(int status) { return status == 201 || status == 202; }

}  // namespace loadgen
