// Fuzzes the mapping of an HTTP/2 request's decoded fields to the HTTP/1.1 head forwarded
// upstream (H2RequestHead). The input is a field list, one "name\0value" per line, then a
// last byte that says whether a body follows. Any crash or sanitizer report is a bug, and so
// is a broken invariant:
// - a head the mapping accepted that the HTTP/1.1 parser finds incomplete (it must always
//   read it whole: accepted or refused, never waiting for more);
// - a head with a body that is framed neither by a Content-Length nor as chunked;
// - a field with CR or LF passed into the head.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/http/http_head.hpp"
#include "proxy/http2/h2_request.hpp"

using namespace handoff::proxy;

namespace {

void require(bool invariant) {
  if (!invariant) {
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) {
    return 0;
  }
  std::string_view input(reinterpret_cast<const char*>(data), size - 1);
  const bool has_body = (data[size - 1] & 1U) != 0;
  H2RequestHead gather(16 * 1024);
  std::size_t lines = 0;
  while (!input.empty() && lines++ < 200) {
    const std::size_t end = input.find('\n');
    const std::string_view line = input.substr(0, end);
    const std::size_t nul = line.find('\0');
    gather.add(line.substr(0, nul), nul == std::string_view::npos ? "" : line.substr(nul + 1));
    input = end == std::string_view::npos ? std::string_view() : input.substr(end + 1);
  }
  std::string head;
  if (gather.finish(has_body, head).refusal != 0) {
    return 0;
  }
  MessageHead parsed;
  const ParseResult result = parse_request_head(head, head.size() + 1, parsed);
  require(result.state != ParseStatus::incomplete);
  require(result.state == ParseStatus::error || result.head_bytes == head.size());
  if (result.state == ParseStatus::complete && has_body) {
    // A body is framed; "none" only for an announced length of 0 (DATA beyond it is a
    // content-length mismatch that nghttp2 resets, RFC 9113 §8.1.1).
    require(parsed.body != BodyKind::until_close);
    require(parsed.body != BodyKind::none ||
            head.find("\r\ncontent-length: ") != std::string::npos);
  }
  return 0;
}
