#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proxy/http/field_block.hpp"
#include "proxy/http/http_head.hpp"

namespace handoff::proxy {

/// What the proxy adds to a request it forwards.
struct RequestForwarding {
  std::string_view client_ip;   ///< appended to X-Forwarded-For
  std::string_view request_id;  ///< set as X-Request-Id when the client sent none
  bool https = false;           ///< the client came over TLS (X-Forwarded-Proto)
};

/// Appends to `out` the head that forwards `req` upstream (RFC 9110 §7.6): hop-by-hop fields and
/// the fields named in Connection are dropped, framing is restated, and X-Forwarded-For,
/// X-Forwarded-Proto, X-Forwarded-Host, Via and X-Request-Id are set. An `Expect:
/// 100-continue` is answered by the proxy itself and not forwarded. Returns the request id the
/// upstream sees.
std::string_view build_upstream_request(const MessageHead& req, const RequestForwarding& fwd,
                                        std::string& out);

/// How a response head is rewritten for the client.
struct ResponseForwarding {
  bool close = false;          ///< the proxy closes the client connection after this response
  bool keep_alive_10 = false;  ///< an HTTP/1.0 client asked for keep-alive
  bool dechunk = false;        ///< the body is sent without chunked framing (HTTP/1.0 client)
  std::string_view extra_field =
      {};  ///< one more header line without its CRLF (e.g. HSTS), or empty
  std::string_view set_cookie = {};  ///< a Set-Cookie value the proxy adds (a canary's), or empty
};

/// Appends to `out` the head that forwards `resp` to the client: hop-by-hop fields and the
/// fields named in Connection are dropped, Via is added, and the connection is stated.
void build_client_response(const MessageHead& resp, const ResponseForwarding& fwd,
                           std::string& out);

/// Fills `out` with the fields of an HTTP/2 response that forwards `resp` (RFC 9113 §8.2.2):
/// `:status`, then its fields without the connection-specific ones (hop-by-hop, those named in
/// Connection, Transfer-Encoding), with Via added, `extra_field` (`Name: value`, e.g. HSTS)
/// and a `set-cookie` of `set_cookie` when not empty.
void build_h2_response(const MessageHead& resp, std::string_view extra_field, FieldBlock& out,
                       std::string_view set_cookie = {});

/// The Location line of a redirect to the same URL over HTTPS: `host` without its port, then
/// `port` unless it is 443, then `target`.
std::string https_location_field(std::string_view host, std::string_view target,
                                 std::uint16_t port);

/// The standard reason phrase for the statuses the proxy itself produces.
std::string_view reason_phrase(int status);

/// A complete short plain-text response made by the proxy (errors, refusals). `extra_field`,
/// when not empty, is one more header line without its CRLF (e.g. `Retry-After: 5`).
std::string make_plain_response(int status, std::string_view text, bool close,
                                std::string_view extra_field = {});

}  // namespace handoff::proxy
