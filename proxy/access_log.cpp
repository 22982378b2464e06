#include "proxy/access_log.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <cstdio>
#include <string>

namespace handoff::proxy {

void append_json_escaped(std::string& out, std::string_view text) {
  for (char ch : text) {
    auto c = static_cast<unsigned char>(ch);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(ch);
    } else if (c < 0x20 || c >= 0x7f) {
      // Request targets are ASCII after parsing; anything else is shown as its byte value.
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
    } else {
      out.push_back(ch);
    }
  }
}

void write_access_log(const AccessRecord& r) {
  std::string line;
  line.reserve(256);
  auto now = std::chrono::system_clock::now();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()) % 1000;
  fmt::format_to(std::back_inserter(line), "{{\"time\":\"{:%Y-%m-%dT%H:%M:%S}.{:03}Z\"",
                 std::chrono::floor<std::chrono::seconds>(now), ms.count());
  auto field = [&](std::string_view name, std::string_view value) {
    fmt::format_to(std::back_inserter(line), ",\"{}\":\"", name);
    append_json_escaped(line, value);
    line.push_back('"');
  };
  field("service", r.service);
  field("upstream", r.upstream);
  field("client", r.client);
  field("method", r.method);
  field("host", r.host);
  field("target", r.target);
  fmt::format_to(std::back_inserter(line), ",\"status\":{},\"bytes\":{},\"ms\":{:.3f}", r.status,
                 r.response_bytes, std::chrono::duration<double, std::milli>(r.took).count());
  field("request_id", r.request_id);
  if (!r.set.empty()) {
    field("set", r.set);
  }
  if (!r.error.empty()) {
    field("error", r.error);
  }
  line.append("}\n");
  std::fwrite(line.data(), 1, line.size(), stdout);
}

}  // namespace handoff::proxy
