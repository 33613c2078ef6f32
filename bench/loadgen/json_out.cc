#include "json_out.h"

#include <cstdio>

namespace loadgen {

void JsonOut::key(std::string_view name) {
  if (text_.size() > 1) text_ += ',';
  text_ += '"';
  text_ += name;
  text_ += "\":";
}

JsonOut& JsonOut::number(std::string_view name, int64_t value) {
  key(name);
  text_ += std::to_string(value);
  return *this;
}

JsonOut& JsonOut::number(std::string_view name, uint64_t value) {
  key(name);
  text_ += std::to_string(value);
  return *this;
}

JsonOut& JsonOut::number(std::string_view name, double value) {
  key(name);
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", value);
  text_ += buffer;
  return *this;
}

JsonOut& JsonOut::string(std::string_view name, std::string_view value) {
  key(name);
  text_ += '"';
  text_ += value;
  text_ += '"';
  return *this;
}

JsonOut& JsonOut::raw(std::string_view name, std::string_view json) {
  key(name);
  text_ += json;
  return *this;
}

std::string JsonOut::finish() {
  text_ += '}';
  return std::move(text_);
}

}  // namespace loadgen
