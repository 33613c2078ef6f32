#include "poll_clients.h"

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "client_fleet.h"
#include "clock.h"
#include "http_response.h"
#include "nchan_http.h"
#include "poll_body.h"

namespace loadgen {

namespace {

struct PollClient {
  bool waiting = false;  // the whole poll is out and not yet answered: the server holds it
  int64_t cursor = 0;    // since= of the next poll: the last cursor received
  NchanCursor nchan;     // --protocol nchan: the cursor is the last answer's Last-Modified/Etag
};

// A poll is one request and one response on a keep-alive connection; the next poll follows the
// answer at once, with the answer's cursor.
class PollRun final : private FleetMode {
 public:
  explicit PollRun(const Options& options)
      : options_(options), clients_(options.clients), fleet_(options, "poll", *this) {}

  int run() {
    host_port_ = options_.host + ":" + std::to_string(options_.port);
    return fleet_.run();
  }

 private:
  // FleetMode.
  void append_request(uint32_t index, std::string& out) override;
  void on_request_sent(uint32_t index) override;
  void on_bytes(uint32_t index, std::string_view bytes, int64_t now) override;
  void on_drop(uint32_t index) override { leave_waiting(clients_[index]); }

  // Handles one complete response; false if the connection must be dropped.
  bool handle_response(uint32_t index, const ResponseHead& head, std::string_view body, int64_t now);
  // Fills messages_ from a Nchan answer (one message per 200); false if it is not one.
  bool read_nchan_answer(PollClient& c, const ResponseHead& head, std::string_view body, bool& empty);
  void leave_waiting(PollClient& c);

  const Options& options_;
  std::vector<PollClient> clients_;
  std::string host_port_;               // Host header of Nchan polls
  std::vector<PolledMessage> messages_;  // reused by every response
  ClientFleet fleet_;
};

void PollRun::append_request(uint32_t index, std::string& out) {
  PollClient& c = clients_[index];
  if (options_.protocol == Protocol::nchan) {
    append_nchan_poll(out, options_.prefix, options_.first_client + index, host_port_, c.nchan, options_.channel);
    return;
  }
  char request[256];
  int n = 0;
  if (c.cursor > 0) {
    n = std::snprintf(request, sizeof request,
                      "GET /poll?client=%s%u&since=%lld HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                      options_.prefix.c_str(), options_.first_client + index,
                      static_cast<long long>(c.cursor), options_.host.c_str(), options_.port);
  } else {
    n = std::snprintf(request, sizeof request, "GET /poll?client=%s%u HTTP/1.1\r\nHost: %s:%u\r\n\r\n",
                      options_.prefix.c_str(), options_.first_client + index,
                      options_.host.c_str(), options_.port);
  }
  out.append(request, static_cast<size_t>(n));
}

void PollRun::on_request_sent(uint32_t index) {
  // The whole request is out: the poll is now held by the server (or answered soon).
  clients_[index].waiting = true;
  fleet_.held++;
}

void PollRun::leave_waiting(PollClient& c) {
  if (!c.waiting) return;
  fleet_.held--;
  c.waiting = false;
}

void PollRun::on_bytes(uint32_t index, std::string_view bytes, int64_t now) {
  std::string& pending = fleet_.pending(index);
  ResponseHead head;
  const HeadParse parsed = parse_response_head(bytes, head);
  if (parsed == HeadParse::error) {
    fleet_.errors().bad_response++;
    fleet_.drop(index, true, now);
    return;
  }
  if (parsed == HeadParse::partial || bytes.size() < head.head_length + head.content_length) {
    if (pending.empty()) pending.assign(bytes);
    return;
  }
  if (bytes.size() > head.head_length + head.content_length) {
    fleet_.errors().bad_response++;  // a second response nobody asked for
    fleet_.drop(index, true, now);
    return;
  }
  const bool keep = handle_response(index, head, bytes.substr(head.head_length), now);
  if (!keep) return;
  pending.clear();
  if (head.close) {
    fleet_.drop(index, false, now);
    return;
  }
  fleet_.send(index);
}

bool PollRun::handle_response(uint32_t index, const ResponseHead& head, std::string_view body,
                              int64_t now) {
  PollClient& c = clients_[index];
  leave_waiting(c);
  fleet_.responses++;
  if (options_.protocol == Protocol::nchan) {
    bool empty = false;
    if (!read_nchan_answer(c, head, body, empty)) {
      fleet_.drop(index, true, now);
      return false;
    }
    if (empty) {
      fleet_.empty_responses++;
      return true;
    }
  } else {
    if (head.status != 200) {
      fleet_.errors().http_status++;
      fleet_.drop(index, true, now);
      return false;
    }
    int64_t cursor = 0;
    if (!parse_poll_body(body, cursor, messages_)) {
      fleet_.errors().bad_response++;
      fleet_.drop(index, true, now);
      return false;
    }
    if (cursor < c.cursor) fleet_.errors().bad_cursor++;
    c.cursor = cursor;
  }
  if (messages_.empty()) {
    fleet_.empty_responses++;
    return true;
  }
  // Read the clock per response, not once per epoll batch: a batch of a thousand responses
  // takes long enough to make the last ones look faster than they were.
  const int64_t received = monotonic_ns();
  for (const PolledMessage& m : messages_) fleet_.receive(index, m.s, m.t, received);
  return true;
}

bool PollRun::read_nchan_answer(PollClient& c, const ResponseHead& head, std::string_view body,
                                bool& empty) {
  messages_.clear();
  switch (classify_nchan_poll_answer(head.status)) {
    case NchanAnswer::empty:
      empty = true;
      return true;
    case NchanAnswer::error:
      fleet_.errors().http_status++;
      return false;
    case NchanAnswer::message:
      break;
  }
  PolledMessage m;
  // Without both cursor headers the next poll would start from the channel's oldest message.
  if (!c.nchan.update(head)) {
    fleet_.errors().bad_cursor++;
    return false;
  }
  if (!parse_message_body(body, m)) {
    fleet_.errors().bad_response++;
    return false;
  }
  messages_.push_back(m);
  empty = false;
  return true;
}

}  // namespace

int run_poll_clients(const Options& options) {
  // ~100 KB of state besides the clients: keep it off the stack.
  auto run = std::make_unique<PollRun>(options);
  return run->run();
}

}  // namespace loadgen
