// Header names interned as tokens: every name the proxy acts on, in any case, and nothing else.
#include "proxy/http/header_token.hpp"

#include <doctest/doctest.h>

#include <string>

using handoff::proxy::has_flag;
using handoff::proxy::header_token;
using handoff::proxy::HeaderToken;
namespace p = handoff::proxy;

TEST_CASE("each field name the proxy acts on is interned to its token, in any case") {
  CHECK(header_token("connection") == HeaderToken::connection);
  CHECK(header_token("Content-Length") == HeaderToken::content_length);
  CHECK(header_token("EXPECT") == HeaderToken::expect);
  CHECK(header_token("Host") == HeaderToken::host);
  CHECK(header_token("Keep-Alive") == HeaderToken::keep_alive);
  CHECK(header_token("Proxy-Connection") == HeaderToken::proxy_connection);
  CHECK(header_token("TE") == HeaderToken::te);
  CHECK(header_token("Transfer-Encoding") == HeaderToken::transfer_encoding);
  CHECK(header_token("upgrade") == HeaderToken::upgrade);
  CHECK(header_token("Via") == HeaderToken::via);
  CHECK(header_token("X-Forwarded-For") == HeaderToken::x_forwarded_for);
  CHECK(header_token("x-forwarded-host") == HeaderToken::x_forwarded_host);
  CHECK(header_token("X-Forwarded-Proto") == HeaderToken::x_forwarded_proto);
  CHECK(header_token("X-Request-ID") == HeaderToken::x_request_id);
}

TEST_CASE("other names, including ones of the same length, are not interned") {
  for (const char* name : {"", "a", "hosts", "hos", "Date", "Server", "Upgrades", "Content-Type",
                           "Content-Lengthy", "x-forwarded-prot0", "connectio\xee",
                           "Transfer-Encodings", "a-very-long-header-name-indeed"}) {
    CAPTURE(std::string(name));
    CHECK(header_token(name) == HeaderToken::other);
  }
  // Case folding applies to letters only: CR is '-' with the 0x20 bit cleared.
  CHECK(header_token("Content\rLength") == HeaderToken::other);
  CHECK(header_token("X\rRequest-Id") == HeaderToken::other);
}

TEST_CASE("flags say what the proxy does with a field") {
  for (HeaderToken t :
       {HeaderToken::connection, HeaderToken::keep_alive, HeaderToken::proxy_connection,
        HeaderToken::te, HeaderToken::transfer_encoding, HeaderToken::upgrade}) {
    CHECK(has_flag(t, p::kHopByHop));
  }
  CHECK(has_flag(HeaderToken::content_length, p::kFraming));
  CHECK(has_flag(HeaderToken::transfer_encoding, p::kFraming));
  CHECK_FALSE(has_flag(HeaderToken::content_length, p::kHopByHop));
  CHECK(has_flag(HeaderToken::host, p::kSetByProxyOnRequest));
  CHECK(has_flag(HeaderToken::x_forwarded_host, p::kSetByProxyOnRequest));
  CHECK(has_flag(HeaderToken::x_forwarded_proto, p::kSetByProxyOnRequest));
  CHECK(p::header_flags(HeaderToken::other) == 0);
  CHECK(p::header_flags(HeaderToken::x_request_id) == 0);
}
