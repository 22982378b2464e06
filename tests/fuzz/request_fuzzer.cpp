// Fuzzes what the proxy does with bytes from a client and from an upstream: request and
// response head parsing, the forwarded heads, and body framing. Any crash or sanitizer report is
// a bug, and so is a broken invariant:
// - a complete parse whose forwarded head does not parse again;
// - a body framed differently when its bytes arrive split into two or three reads;
// - a forwarded message that is not exactly one message: parsed again, its head and body must
//   end at its last byte, with nothing carried after it.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proxy/http/body_framer.hpp"
#include "proxy/http/forward_headers.hpp"
#include "proxy/http/http_head.hpp"

using namespace handoff::proxy;

namespace {

void require(bool invariant) {
  if (!invariant) {
    std::abort();
  }
}

struct Framed {
  std::string forwarded;
  std::size_t taken = 0;
  bool done = false;
  bool failed = false;
  bool operator==(const Framed&) const = default;
};

/// Frames `input` arriving in reads cut at `cut1` and `cut2`, the way the relay does: bytes
/// accumulate in a buffer, the framer takes from its front, the rest waits for the next read.
Framed frame(BodyKind kind, std::uint64_t length, ChunkedOutput output, std::string_view input,
             std::size_t cut1, std::size_t cut2) {
  BodyFramer framer(kind, length, output);
  Framed r;
  std::string buffer;
  const std::size_t cuts[] = {std::min(cut1, cut2), std::max(cut1, cut2), input.size()};
  std::size_t from = 0;
  for (std::size_t to : cuts) {
    buffer.append(input.substr(from, to - from));
    from = to;
    const BodyFramer::Step step = framer.feed(buffer);
    r.forwarded.append(step.forward);
    r.taken += step.consumed;
    buffer.erase(0, step.consumed);
    if (framer.done() || framer.failed()) {
      break;
    }
  }
  r.done = framer.done();
  r.failed = framer.failed();
  return r;
}

/// The body after a head must frame the same however it is split, and a complete chunked body
/// re-framed by the proxy must frame to itself, to its last byte.
void check_body(const MessageHead& head, std::string_view body, std::size_t seed) {
  const std::size_t n = body.size();
  const Framed whole = frame(head.body, head.content_length, ChunkedOutput::reframe, body, n, n);
  const std::size_t cut1 = n == 0 ? 0 : seed % (n + 1);
  const std::size_t cut2 = n == 0 ? 0 : (seed / 7) % (n + 1);
  require(frame(head.body, head.content_length, ChunkedOutput::reframe, body, cut1, cut1) == whole);
  require(frame(head.body, head.content_length, ChunkedOutput::reframe, body, cut1, cut2) == whole);
  require(whole.taken <= n);
  if (head.body == BodyKind::chunked && whole.done) {
    const std::size_t m = whole.forwarded.size();
    const Framed again =
        frame(BodyKind::chunked, 0, ChunkedOutput::reframe, whole.forwarded + "GET", m, m);
    require(again.done && again.taken == m && again.forwarded == whole.forwarded);
  }
}

void check_request(std::string_view input, std::size_t seed) {
  static MessageHead head;
  static MessageHead again;
  ParseResult r = parse_request_head(input, 16384, head);
  if (r.state != ParseStatus::complete) {
    return;
  }
  std::string out;
  build_upstream_request(head, {"127.0.0.1", "0123456789abcdef0123456789abcdef"}, out);
  // What the proxy sends upstream must itself be a valid, unambiguous request, ending exactly
  // where its head ends. (The fields the proxy adds can push a request near the field-count
  // limit over it; that is a limit, not ambiguity.)
  ParseResult fwd = parse_request_head(out, 1 << 20, again);
  const bool at_limit = fwd.error_status == 431 && head.header_count + 6 > kMaxHeaders;
  if (!at_limit) {
    require(fwd.state == ParseStatus::complete && fwd.head_bytes == out.size());
    require(again.body == head.body && again.content_length == head.content_length);
    require(again.host == head.host && (again.target.front() == '/' || again.target == "*"));
  }
  // A head cut short by a read is never judged early: the prefix waits for more bytes.
  static MessageHead prefix;
  const std::size_t cut = seed % r.head_bytes;
  require(parse_request_head(input.substr(0, cut), 16384, prefix).state == ParseStatus::incomplete);
  check_body(head, input.substr(r.head_bytes), seed);
}

void check_response(std::string_view input, std::size_t seed) {
  static MessageHead head;
  static MessageHead again;
  ParseResult resp = parse_response_head(input, 16384, "GET", head);
  if (resp.state != ParseStatus::complete) {
    return;
  }
  std::string out;
  build_client_response(head, {.close = (seed & 1) != 0}, out);
  ParseResult fwd = parse_response_head(out, 1 << 20, "GET", again);
  const bool at_limit = fwd.state == ParseStatus::error && head.header_count + 3 > kMaxHeaders;
  require(at_limit || (fwd.state == ParseStatus::complete && fwd.head_bytes == out.size()));
  if (head.body != BodyKind::until_close) {
    check_body(head, input.substr(resp.head_bytes), seed);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  std::size_t seed = size;
  for (std::size_t i = 0; i < size && i < 16; ++i) {
    seed = seed * 31 + data[i];
  }
  check_request(input, seed);
  check_response(input, seed);
  return 0;
}
