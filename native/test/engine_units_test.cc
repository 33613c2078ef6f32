// Unit tests of the engine's pure parts: the timer wheel, the connection table
// (slots, generations, lazily backed memory), the prebuilt responses and the
// rule for header text.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "../connection_table.h"
#include "../header_text.h"
#include "../http_response.h"
#include "../timer_wheel.h"
#include "tiny_test.h"

using megacomet::Connection;
using megacomet::ConnectionTable;
using megacomet::ConnState;
using megacomet::TimerNode;
using megacomet::TimerWheel;

namespace {

// A wheel over a plain array of nodes, the way the engine lays them in records.
struct Wheel {
  explicit Wheel(std::uint32_t slots, std::size_t nodes = 64) : nodes(nodes), wheel(slots, this->nodes.data(), sizeof(TimerNode)) {}
  std::vector<std::uint32_t> advance(std::uint32_t now) {
    std::vector<std::uint32_t> expired;
    wheel.advance(now, &expired);
    std::sort(expired.begin(), expired.end());
    return expired;
  }
  std::vector<TimerNode> nodes;
  TimerWheel wheel;
};

std::string show_ids(const std::vector<std::uint32_t>& ids) {
  std::string s = "[";
  for (std::size_t i = 0; i < ids.size(); ++i) s += (i ? "," : "") + std::to_string(ids[i]);
  return s + "]";
}

bool same(const std::vector<std::uint32_t>& got, const std::vector<std::uint32_t>& want, tiny_test::Case& c,
          const std::string& what) {
  return c.expect(got == want, what + ": expected " + show_ids(want) + ", got " + show_ids(got));
}

}  // namespace

TINY_TEST(timer_wheel_expires_nodes_at_their_deadline_and_not_before) {
  tiny_test::Case c("timer wheel", "a node expires at its deadline tick, not one tick before");
  Wheel w(16);
  w.wheel.schedule(3, 5);
  same(w.advance(4), {}, c, "advance to 4");
  c.expect(w.wheel.scheduled(3), "still scheduled at tick 4");
  same(w.advance(5), {3}, c, "advance to 5");
  c.expect(!w.wheel.scheduled(3), "unscheduled once expired");
  c.expect_eq(w.wheel.size(), std::size_t{0}, "size after expiry");
  same(w.advance(40), {}, c, "nothing fires twice");
}

TINY_TEST(timer_wheel_moves_past_deadlines_to_the_next_tick) {
  tiny_test::Case c("timer wheel", "a deadline at or before the current tick fires on the next one");
  Wheel w(16);
  w.advance(10);
  w.wheel.schedule(1, 10);
  w.wheel.schedule(2, 3);
  same(w.advance(10), {}, c, "advance to the current tick again");
  same(w.advance(11), {1, 2}, c, "advance to the next tick");
}

TINY_TEST(timer_wheel_cancels_and_reschedules) {
  {
    tiny_test::Case c("timer wheel", "a cancelled node never fires and cancelling twice is harmless");
    Wheel w(16);
    w.wheel.schedule(1, 4);
    w.wheel.schedule(2, 4);
    w.wheel.schedule(3, 4);
    w.wheel.cancel(2);  // the middle of the slot's list
    w.wheel.cancel(2);
    w.wheel.cancel(9);  // never scheduled
    c.expect_eq(w.wheel.size(), std::size_t{2}, "size after cancels");
    same(w.advance(4), {1, 3}, c, "the others still fire");
  }
  {
    tiny_test::Case c("timer wheel", "rescheduling moves a node to its new deadline only");
    Wheel w(16);
    w.wheel.schedule(1, 4);
    w.wheel.schedule(1, 9);
    c.expect_eq(w.wheel.size(), std::size_t{1}, "one node, scheduled once");
    same(w.advance(8), {}, c, "not at the old deadline");
    same(w.advance(9), {1}, c, "at the new deadline");
  }
  {
    tiny_test::Case c("timer wheel", "a node expired and scheduled again fires again");
    Wheel w(16);
    w.wheel.schedule(7, 2);
    w.advance(2);
    w.wheel.schedule(7, 6);
    same(w.advance(6), {7}, c, "second expiry");
  }
}

TINY_TEST(timer_wheel_keeps_far_deadlines_for_their_own_turn) {
  tiny_test::Case c("timer wheel", "a deadline more than one turn away waits for its turn");
  Wheel w(8);  // one turn = 8 ticks
  w.wheel.schedule(1, 21);  // slot 5, third turn
  w.wheel.schedule(2, 5);   // same slot, first turn
  same(w.advance(5), {2}, c, "first visit of the slot");
  same(w.advance(13), {}, c, "second visit: still a turn early");
  same(w.advance(21), {1}, c, "third visit");
}

TINY_TEST(timer_wheel_catches_up_after_a_stall) {
  tiny_test::Case c("timer wheel", "one advance over more than a turn fires everything due, once");
  Wheel w(8);
  for (std::uint32_t id = 0; id < 20; ++id) w.wheel.schedule(id, 1 + id * 3);  // ticks 1..58
  std::vector<std::uint32_t> want;
  for (std::uint32_t id = 0; id < 20; ++id) {
    if (1 + id * 3 <= 40) want.push_back(id);
  }
  same(w.advance(40), want, c, "advance 0 -> 40");
  c.expect_eq(w.wheel.size(), std::size_t{20 - want.size()}, "the rest stay scheduled");
  c.expect_eq(w.wheel.current(), std::uint32_t{40}, "current tick");
  std::vector<std::uint32_t> rest;
  for (std::uint32_t id = static_cast<std::uint32_t>(want.size()); id < 20; ++id) rest.push_back(id);
  same(w.advance(100), rest, c, "advance 40 -> 100");
}

TINY_TEST(timer_wheel_tells_when_to_look_next) {
  {
    tiny_test::Case c("timer wheel", "next_deadline is the earliest deadline, across turns, and none when empty");
    Wheel w(8);
    c.expect_eq(w.wheel.next_deadline(), megacomet::kTimerNil, "empty wheel");
    w.wheel.schedule(1, 30);  // a later turn
    c.expect_eq(w.wheel.next_deadline(), std::uint32_t{30}, "one far node");
    w.wheel.schedule(2, 6);
    c.expect_eq(w.wheel.next_deadline(), std::uint32_t{6}, "a nearer node");
    same(w.advance(6), {2}, c, "advance to the nearer one");
    c.expect_eq(w.wheel.next_deadline(), std::uint32_t{30}, "then the far one again");
    same(w.advance(29), {}, c, "nothing before it");
    same(w.advance(30), {1}, c, "at it");
    c.expect_eq(w.wheel.next_deadline(), megacomet::kTimerNil, "empty again");
  }
  {
    tiny_test::Case c("timer wheel", "a cancel may leave next_deadline early, never late, and a visit corrects it");
    Wheel w(8);
    w.wheel.schedule(1, 3);
    w.wheel.schedule(2, 11);  // same slot, next turn
    w.wheel.schedule(3, 20);
    w.wheel.cancel(1);
    std::uint32_t next = w.wheel.next_deadline();
    c.expect(next <= 11, "not later than the earliest live node: got " + std::to_string(next));
    same(w.advance(next), {}, c, "the early look finds nothing due");
    c.expect_eq(w.wheel.next_deadline(), std::uint32_t{11}, "corrected after the visit");
    same(w.advance(11), {2}, c, "the live node fires");
  }
  {
    tiny_test::Case c("timer wheel", "a jump far past every deadline fires each node once");
    Wheel w(8, 100);
    for (std::uint32_t id = 0; id < 100; ++id) w.wheel.schedule(id, 1 + id * 7);
    std::vector<std::uint32_t> all;
    for (std::uint32_t id = 0; id < 100; ++id) all.push_back(id);
    same(w.advance(100000), all, c, "one advance over many turns");
    c.expect_eq(w.wheel.next_deadline(), megacomet::kTimerNil, "nothing left");
  }
}

TINY_TEST(timer_wheel_handles_many_nodes_in_one_slot) {
  tiny_test::Case c("timer wheel", "a thousand nodes in one slot, every third cancelled");
  Wheel w(16, 1000);
  for (std::uint32_t id = 0; id < 1000; ++id) w.wheel.schedule(id, 7);
  std::vector<std::uint32_t> want;
  for (std::uint32_t id = 0; id < 1000; ++id) {
    if (id % 3 == 0) {
      w.wheel.cancel(id);
    } else {
      want.push_back(id);
    }
  }
  same(w.advance(7), want, c, "the survivors");
  c.expect_eq(w.wheel.size(), std::size_t{0}, "size");
}

TINY_TEST(connection_table_hands_out_slots_with_fresh_generations) {
  {
    tiny_test::Case c("connection table", "slots are dense from 0 and start at generation 1");
    ConnectionTable t;
    if (!c.expect(t.init(100), "init")) return;
    for (std::uint32_t i = 0; i < 3; ++i) {
      std::uint32_t slot = t.acquire(static_cast<int>(10 + i));
      c.expect_eq(slot, i, "slot");
      c.expect_eq(t.at(slot).gen, std::uint32_t{1}, "generation");
      c.expect_eq(t.at(slot).fd, static_cast<int>(10 + i), "fd");
      c.expect(t.at(slot).state == ConnState::kHead, "state is kHead");
      c.expect(t.at(slot).in == nullptr && t.at(slot).out == nullptr, "no buffers");
    }
    c.expect_eq(t.high_water(), std::uint32_t{3}, "high water");
    c.expect(t.live(2) && !t.live(3) && !t.live(99), "live() within and beyond the high water");
  }
  {
    tiny_test::Case c("connection table", "the record stays 40 bytes");
    c.expect_eq(sizeof(Connection), std::size_t{40}, "sizeof(Connection)");
  }
}

TINY_TEST(connection_table_reuses_slots_only_after_recycle) {
  tiny_test::Case c("connection table", "a released slot is reused after recycle(), last released first, with a new generation");
  ConnectionTable t;
  if (!c.expect(t.init(100), "init")) return;
  for (int i = 0; i < 4; ++i) t.acquire(i);
  t.at(1).gen = 41;  // as if it had reported requests
  t.release(1);
  t.release(2);
  c.expect(!t.live(1) && !t.live(2), "released slots are not live");
  c.expect_eq(t.acquire(50), std::uint32_t{4}, "before recycle: a fresh slot, not a released one");
  t.recycle();
  c.expect_eq(t.acquire(51), std::uint32_t{2}, "after recycle: the last released");
  std::uint32_t again = t.acquire(52);
  c.expect_eq(again, std::uint32_t{1}, "then the one before");
  c.expect_eq(t.at(again).gen, std::uint32_t{42}, "generation continues from the old one");
  c.expect_eq(t.at(again).fd, 52, "new fd");
}

TINY_TEST(connection_table_reports_full) {
  tiny_test::Case c("connection table", "a full table returns kNoSlot until a slot is recycled");
  ConnectionTable t;
  if (!c.expect(t.init(2), "init")) return;
  t.acquire(1);
  t.acquire(2);
  c.expect_eq(t.acquire(3), megacomet::kNoSlot, "third acquire");
  t.release(0);
  c.expect_eq(t.acquire(3), megacomet::kNoSlot, "released but not recycled");
  t.recycle();
  c.expect_eq(t.acquire(3), std::uint32_t{0}, "after recycle");
}

TINY_TEST(connection_table_generations_wrap_below_2_pow_29_and_skip_0) {
  tiny_test::Case c("connection table", "next_generation wraps below 2^29 and never yields 0");
  c.expect_eq(megacomet::next_generation(0), std::uint32_t{1}, "0 -> 1");
  c.expect_eq(megacomet::next_generation(7), std::uint32_t{8}, "7 -> 8");
  c.expect_eq(megacomet::next_generation(megacomet::kGenSpan - 1), std::uint32_t{1}, "2^29 - 1 -> 1");
  // The largest handle stays a safe JS integer.
  double largest = double(megacomet::kGenSpan - 1) * double(1u << megacomet::kSlotBits) + double(megacomet::kMaxSlots);
  c.expect(largest < 9007199254740992.0, "largest handle < 2^53");
}

TINY_TEST(connection_table_costs_memory_only_for_touched_pages) {
  tiny_test::Case c("connection table", "a table reserved for a million connections keeps untouched pages out of memory");
  ConnectionTable t;
  if (!c.expect(t.init(1000000), "init")) return;
  for (int i = 0; i < 100; ++i) t.acquire(i);  // 4000 bytes: the first page or two
  long page = sysconf(_SC_PAGESIZE);
  std::size_t bytes = std::size_t{1000000} * sizeof(Connection);
  std::size_t pages = (bytes + page - 1) / page;
  std::vector<unsigned char> resident(pages);
  if (!c.expect(mincore(t.records(), bytes, resident.data()) == 0, "mincore")) return;
  std::size_t count = 0;
  for (unsigned char r : resident) count += r & 1;
  c.expect(count <= 2, "resident pages: expected <= 2, got " + std::to_string(count) + " of " + std::to_string(pages));
}

TINY_TEST(byte_buffers_grow_compact_and_free) {
  using megacomet::ByteBuffer;
  {
    tiny_test::Case c("byte buffer", "append creates, keeps order across growth, and compacts consumed bytes");
    ByteBuffer* b = nullptr;
    if (!c.expect(megacomet::byte_buffer_append(&b, "GET / HT", 8), "first append")) return;
    c.expect_eq(b->cap, std::uint32_t{megacomet::kByteBufferStep}, "capacity rounded to a step");
    std::string big(600, 'x');
    c.expect(megacomet::byte_buffer_append(&b, big.data(), big.size()), "append past the capacity");
    c.expect_eq(std::string(b->begin(), b->len), "GET / HT" + big, "contents after growth");
    b->off += 8;  // consumed, as after a parsed head
    b->len -= 8;
    std::uint32_t cap = b->cap;
    // More than the room after the data, no more than the room in all.
    std::string more(cap - b->off - b->len + 4, 'y');
    c.expect(megacomet::byte_buffer_append(&b, more.data(), more.size()), "append into the consumed room");
    c.expect_eq(b->cap, cap, "no growth when compacting makes room");
    c.expect_eq(b->off, std::uint32_t{0}, "compacted to the front");
    c.expect_eq(std::string(b->begin(), b->len), big + more, "contents after compaction");
    b->len = 0;
    b->discard = 5;
    megacomet::byte_buffer_release_if_empty(&b);
    c.expect(b != nullptr, "kept while body bytes remain to drop");
    b->discard = 0;
    megacomet::byte_buffer_release_if_empty(&b);
    c.expect(b == nullptr, "freed once empty");
  }
}

TINY_TEST(responses_are_gathered_from_templates) {
  using megacomet::ConnectionHeader;
  using megacomet::ResponseKind;
  using megacomet::ResponseSpec;
  megacomet::ResponseTemplates templates("https://example.test");
  auto render = [&](const ResponseSpec& spec) {
    char tail[megacomet::kResponseTailBytes];
    iovec iov[megacomet::kResponseMaxIov];
    std::size_t total = 0;
    int n = templates.gather(spec, tail, iov, &total);
    std::string out;
    for (int i = 0; i < n; ++i) out.append(static_cast<const char*>(iov[i].iov_base), iov[i].iov_len);
    return out.size() == total ? out : std::string("total mismatch");
  };
  {
    tiny_test::Case c("responses", "a JSON 200 with keep-alive carries no Connection header");
    ResponseSpec s{200, ResponseKind::kJson, "{}", 2, nullptr, 0, false, ConnectionHeader::kNone};
    c.expect_eq(render(s),
                std::string("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\n"
                            "Cache-Control: no-store\r\nAccess-Control-Allow-Origin: https://example.test\r\n"
                            "Content-Length: 2\r\n\r\n{}"),
                "bytes");
  }
  {
    tiny_test::Case c("responses", "HEAD keeps Content-Length and drops the body; close is said");
    ResponseSpec s{200, ResponseKind::kText, "ok", 2, nullptr, 0, true, ConnectionHeader::kClose};
    std::string r = render(s);
    c.expect(r.find("Content-Length: 2\r\nConnection: close\r\n\r\n") != std::string::npos, "head: " + tiny_test::show(r));
    c.expect(r.size() >= 4 && r.compare(r.size() - 4, 4, "\r\n\r\n") == 0, "ends with the blank line");
  }
  {
    tiny_test::Case c("responses", "JSONP says nosniff; HTTP/1.0 keep-alive is said; extra headers precede the blank line");
    ResponseSpec s{200, ResponseKind::kJsonp, "f()", 3, "X-A: 1\r\n", 8, false, ConnectionHeader::kKeepAlive};
    std::string r = render(s);
    c.expect(r.find("Content-Type: application/javascript; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\n") !=
                 std::string::npos,
             "jsonp head");
    c.expect(r.find("Connection: keep-alive\r\nX-A: 1\r\n\r\nf()") != std::string::npos, "tail: " + tiny_test::show(r));
  }
  {
    tiny_test::Case c("responses", "204 has neither Content-Type nor Content-Length nor body");
    ResponseSpec s{204, ResponseKind::kNone, "x", 1, nullptr, 0, false, ConnectionHeader::kNone};
    c.expect_eq(render(s),
                std::string("HTTP/1.1 204 No Content\r\nCache-Control: no-store\r\n"
                            "Access-Control-Allow-Origin: https://example.test\r\n\r\n"),
                "bytes");
  }
  {
    tiny_test::Case c("responses", "a status without a registered reason keeps the space");
    c.expect_eq(std::string(templates.status_line(299)), std::string("HTTP/1.1 299 \r\n"), "299");
    c.expect_eq(std::string(templates.status_line(431)), std::string("HTTP/1.1 431 Request Header Fields Too Large\r\n"), "431");
  }
}

TINY_TEST(error_responses_are_complete_and_close) {
  const megacomet::HttpError all[] = {megacomet::HttpError::kBadRequest, megacomet::HttpError::kPayloadTooLarge,
                                      megacomet::HttpError::kHeadersTooLarge, megacomet::HttpError::kNotImplemented,
                                      megacomet::HttpError::kServiceUnavailable};
  megacomet::ResponseTemplates templates("*");
  for (megacomet::HttpError e : all) {
    const megacomet::HttpErrorInfo& info = megacomet::kHttpErrors[static_cast<std::size_t>(e)];
    tiny_test::Case c("error responses", std::to_string(info.status));
    std::string r(templates.error(e));
    std::size_t blank = r.find("\r\n\r\n");
    if (!c.expect(blank != std::string::npos, "has a blank line")) continue;
    std::string head = r.substr(0, blank + 2);
    std::string body = r.substr(blank + 4);
    c.expect(head.rfind("HTTP/1.1 " + std::to_string(info.status) + " ", 0) == 0, "status line: " + tiny_test::show(head));
    c.expect(head.find("Content-Length: " + std::to_string(body.size()) + "\r\n") != std::string::npos, "Content-Length matches");
    c.expect(head.find("Connection: close\r\n") != std::string::npos, "Connection: close");
    c.expect(head.find("Access-Control-Allow-Origin: *\r\n") != std::string::npos, "CORS");
    c.expect(head.find("Content-Type: application/json; charset=utf-8\r\n") != std::string::npos, "JSON");
    c.expect_eq(body, std::string("{\"error\":\"") + info.code + "\",\"message\":\"" + info.message + "\"}", "body");
  }
}

TINY_TEST(header_text_is_visible_ascii_and_spaces_up_to_1024_bytes) {
  struct Row {
    const char* name;
    std::string text;
    bool ok;
  };
  const Row rows[] = {
      {"a star", "*", true},
      {"an origin", "https://example.test:8443", true},
      {"spaces and every visible byte", " !\"#~}|{`_^]\\[@?>=<;:/.-,+*)('&%$", true},
      {"1024 bytes", std::string(1024, 'a'), true},
      {"empty", "", false},
      {"1025 bytes", std::string(1025, 'a'), false},
      {"CR LF (would inject a header)", "https://a.test\r\nSet-Cookie: x=1", false},
      {"a tab", "a\tb", false},
      {"NUL", std::string("a\0b", 3), false},
      {"DEL", "a\x7F", false},
      {"UTF-8", "https://caf\xC3\xA9.test", false},
  };
  for (const Row& row : rows) {
    tiny_test::Case c("header text", row.name);
    c.expect_eq(megacomet::is_header_text(row.text), row.ok, "is_header_text(" + tiny_test::show(row.text) + ")");
  }
}
