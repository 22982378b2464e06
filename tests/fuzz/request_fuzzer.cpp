// Fuzzes what the proxy does with bytes from a client and from an upstream: request and
// response head parsing, the forwarded heads, and chunked framing. Any crash or sanitizer
// report is a bug; so is a complete parse whose forwarded head does not parse again.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/chunked_scanner.hpp"
#include "proxy/forward_headers.hpp"
#include "proxy/http_head.hpp"

using namespace handoff::proxy;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static MessageHead head;
  static MessageHead again;

  ParseResult r = parse_request_head(input, 16384, head);
  if (r.state == ParseStatus::complete) {
    std::string out;
    build_upstream_request(head, {"127.0.0.1", "0123456789abcdef0123456789abcdef"}, out);
    // What the proxy sends upstream must itself be a valid, unambiguous request. (The fields
    // the proxy adds can push a request near the field-count limit over it; that is a limit,
    // not ambiguity.)
    ParseResult fwd = parse_request_head(out, 1 << 20, again);
    const bool at_limit = fwd.error_status == 431 && head.header_count + 6 > kMaxHeaders;
    if (!at_limit && (fwd.state != ParseStatus::complete || again.body != head.body ||
                      again.content_length != head.content_length)) {
      std::abort();
    }
    if (head.body == BodyKind::chunked) {
      ChunkedScanner chunks;
      std::size_t used = chunks.feed(input.substr(r.head_bytes));
      if (used > input.size() - r.head_bytes) {
        std::abort();
      }
    }
  }

  ParseResult resp = parse_response_head(input, 16384, "GET", head);
  if (resp.state == ParseStatus::complete) {
    std::string out;
    build_client_response(head, {.close = (size & 1) != 0}, out);
    ParseResult fwd = parse_response_head(out, 1 << 20, "GET", again);
    const bool at_limit = fwd.state == ParseStatus::error && head.header_count + 3 > kMaxHeaders;
    if (!at_limit && fwd.state != ParseStatus::complete) {
      std::abort();
    }
  }
  return 0;
}
