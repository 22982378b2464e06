#pragma once

#include <cstdint>
#include <string_view>

namespace handoff::proxy {

/// The header fields the proxy acts on, interned once when a head is parsed, so that the
/// framing checks, the hop-by-hop rules and the forwarding rewrites switch on a small integer
/// instead of comparing names again. Every other field is `other` and passes through.
enum class HeaderToken : std::uint8_t {
  other,
  connection,
  content_length,
  expect,
  host,
  keep_alive,
  proxy_connection,
  te,
  transfer_encoding,
  upgrade,
  via,
  x_forwarded_for,
  x_forwarded_host,
  x_forwarded_proto,
  x_request_id,
  cookie,
  http2_settings,
};

/// What the proxy does with a field, whichever direction it travels.
enum HeaderFlag : std::uint8_t {
  /// Meaningful for one connection only; never forwarded as received (RFC 9110 §7.6.1, plus the
  /// legacy Proxy-Connection and Keep-Alive). In HTTP/2 a request carrying one is malformed.
  kHopByHop = 1U << 0U,
  /// States the message's framing; the relay restates it from the parsed head.
  kFraming = 1U << 1U,
  /// A request field the proxy sets itself from what it knows (Host from the target's
  /// authority, the X-Forwarded-Host and -Proto it vouches for): the client's is dropped.
  kSetByProxyOnRequest = 1U << 2U,
};

/// The token for a field name, compared without regard to ASCII case; `other` for any name
/// the proxy does not act on.
HeaderToken header_token(std::string_view name);

/// The flags of a token (0 for `other`).
std::uint8_t header_flags(HeaderToken token);

/// Whether `token` carries `flag`.
inline bool has_flag(HeaderToken token, HeaderFlag flag) {
  return (header_flags(token) & flag) != 0;
}

}  // namespace handoff::proxy
