#pragma once

#include <chrono>
#include <cstdint>
#include <string_view>

namespace handoff::proxy {

/// One finished request, as the access log records it.
struct AccessRecord {
  std::string_view service;
  std::string_view upstream;
  std::string_view client;
  std::string_view method;
  std::string_view target;
  std::string_view host;
  std::string_view request_id;
  int status = 0;
  std::uint64_t response_bytes = 0;
  std::chrono::steady_clock::duration took{};
  std::string_view error;  ///< why the proxy refused or ended the request; empty when it did not
  std::string_view set;    ///< "serving" or "canary" while a canary runs; empty otherwise
};

/// Writes one JSON line for the request to stdout.
void write_access_log(const AccessRecord& record);

/// Appends `text` to `out` escaped for a JSON string: quotes and backslashes escaped, and every
/// byte outside printable ASCII (controls, DEL, anything >= 0x80) as \u00XX, its byte value, so
/// that no byte a client sent can break the line or pass for other text.
void append_json_escaped(std::string& out, std::string_view text);

}  // namespace handoff::proxy
