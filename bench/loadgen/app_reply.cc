#include "app_reply.h"

#include "json_scan.h"

namespace loadgen {

bool parse_app_reply(std::string_view line, AppReply& out) {
  out = AppReply{};
  JsonScan scan(line);
  bool have_ok = false;
  if (!scan.expect('{') || scan.take('}')) return false;
  do {
    std::string_view key;
    if (!scan.string(key) || !scan.expect(':')) return false;
    if (key == "ok") {
      if (!scan.boolean(out.ok)) return false;
      have_ok = true;
    } else if (key == "error") {
      if (!scan.string(out.error)) return false;
    } else if (!scan.skip_value()) {
      return false;
    }
  } while (scan.take(','));
  return scan.expect('}') && scan.at_end() && have_ok;
}

}  // namespace loadgen
