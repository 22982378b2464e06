#include "proxy/http/body_framer.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace handoff::proxy;

namespace {

/// Feeds `input` to a framer in two pieces cut at `cut`, as two reads; returns what was
/// forwarded and how many bytes were taken.
std::pair<std::string, std::size_t> frame_split(BodyFramer framer, std::string_view input,
                                                std::size_t cut) {
  std::string forwarded;
  std::size_t taken = 0;
  std::string buffer(input.substr(0, cut));
  for (std::string_view next : {input.substr(cut), std::string_view{}}) {
    const BodyFramer::Step step = framer.feed(buffer);
    forwarded.append(step.forward);
    taken += step.consumed;
    buffer.erase(0, step.consumed);
    if (framer.done()) {
      break;
    }
    buffer.append(next);
  }
  return {forwarded, taken};
}

}  // namespace

TEST_CASE("a Content-Length body split at every byte boundary is taken exactly once") {
  // The bytes after the body are a pipelined request: they must never be taken.
  const std::string body = "0123456789";
  const std::string input = body + "GET /next HTTP/1.1\r\n\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    auto [forwarded, taken] = frame_split(BodyFramer(BodyKind::length, 10), input, cut);
    CHECK_MESSAGE(forwarded == body, "cut at ", cut);
    CHECK(taken == body.size());
  }
}

TEST_CASE("a chunked body split at every byte boundary is re-framed the same") {
  const std::string body = "4;e=1\r\nwiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n";
  const std::string input = body + "POST /smuggled HTTP/1.1\r\n";
  for (std::size_t cut = 0; cut <= input.size(); ++cut) {
    auto [forwarded, taken] = frame_split(BodyFramer(BodyKind::chunked, 0), input, cut);
    CHECK_MESSAGE(forwarded == "4\r\nwiki\r\n5\r\npedia\r\n0\r\nT: 1\r\n\r\n", "cut at ", cut);
    CHECK(taken == body.size());
  }
}

TEST_CASE("no body takes nothing, and a close-delimited body takes everything") {
  BodyFramer none(BodyKind::none, 0);
  CHECK(none.done());
  CHECK(none.feed("GET / HTTP/1.1\r\n").consumed == 0);
  BodyFramer until_close(BodyKind::until_close, 0);
  CHECK(until_close.feed("abc").consumed == 3);
  CHECK_FALSE(until_close.done());
  CHECK(until_close.data_bytes() == 3);
}
