#include "nchan_http.h"

#include <charconv>

namespace loadgen {

namespace {

void append_int(std::string& out, int64_t v) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  out.append(buffer, result.ptr);
}

void append_target(std::string& out, std::string_view method, std::string_view path,
                   std::string_view prefix, uint32_t id, std::string_view host_port,
                   std::string_view channel) {
  out += method;
  out += ' ';
  out += path;
  if (channel.empty()) {
    out += prefix;
    append_int(out, id);
  } else {
    out += channel;
  }
  out += " HTTP/1.1\r\nHost: ";
  out += host_port;
  out += "\r\n";
}

}  // namespace

bool NchanCursor::update(const ResponseHead& head) {
  if (head.last_modified.empty() || head.etag.empty()) return false;
  last_modified.assign(head.last_modified);
  etag.assign(head.etag);
  return true;
}

void append_nchan_poll(std::string& out, std::string_view prefix, uint32_t id,
                       std::string_view host_port, const NchanCursor& cursor, std::string_view channel) {
  append_target(out, "GET", kNchanSubscribePath, prefix, id, host_port, channel);
  if (!cursor.empty()) {
    out += "If-Modified-Since: ";
    out += cursor.last_modified;
    out += "\r\nIf-None-Match: ";
    out += cursor.etag;
    out += "\r\n";
  }
  out += "\r\n";
}

void append_nchan_publish(std::string& out, std::string_view prefix, uint32_t id,
                          std::string_view host_port, int64_t t, int64_t s, std::string_view channel) {
  char body[64];
  char* p = body;
  auto put = [&p](std::string_view text) {
    for (char c : text) *p++ = c;
  };
  put("{\"t\":");
  p = std::to_chars(p, body + sizeof body, t).ptr;
  put(",\"s\":");
  p = std::to_chars(p, body + sizeof body, s).ptr;
  put("}");
  append_target(out, "POST", kNchanPublishPath, prefix, id, host_port, channel);
  out += "Content-Length: ";
  append_int(out, p - body);
  out += "\r\n\r\n";
  out.append(body, p);
}

NchanAnswer classify_nchan_poll_answer(int status) {
  if (status == 200) return NchanAnswer::message;
  if (status == 304 || status == 408) return NchanAnswer::empty;
  return NchanAnswer::error;
}

}  // namespace loadgen
