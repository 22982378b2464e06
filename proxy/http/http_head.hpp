#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "proxy/http/header_token.hpp"

namespace handoff::proxy {

/// One header field as it appears on the wire; both views point into the read buffer.
struct Header {
  std::string_view name;
  std::string_view value;
  HeaderToken token = HeaderToken::other;  ///< the name, interned when the head was parsed
};

/// Most header fields a message may carry before it is refused (431 for requests).
inline constexpr std::size_t kMaxHeaders = 100;

/// How a message body is delimited (RFC 9112 §6.3).
enum class BodyKind : std::uint8_t { none, length, chunked, until_close };

/// What a parsed request or response head says, apart from its field lines.
struct HeadFacts {
  std::string_view method;  ///< requests only
  std::string_view target;  ///< requests only; origin-form (an absolute-form's path and query)
  int status = 0;           ///< responses only
  std::string_view reason;  ///< responses only
  int version_minor = 1;    ///< HTTP/1.x

  // Derived while parsing, from the framing and connection headers.
  BodyKind body = BodyKind::none;
  std::uint64_t content_length = 0;
  bool connection_close = false;       ///< `Connection: close` was sent
  bool connection_keep_alive = false;  ///< `Connection: keep-alive` was sent
  bool connection_upgrade = false;     ///< `Connection: upgrade` was sent
  /// An `Upgrade` field offers websocket: the one protocol the proxy tunnels. Any other
  /// (h2c above all, which would reach the backend past every check) is not forwarded.
  bool websocket_upgrade = false;
  bool expect_continue = false;  ///< `Expect: 100-continue`
  std::string_view host;         ///< requests only: the Host field, or an absolute-form's authority
};

/// The fields of a parsed request or response head that the relay needs.
struct MessageHead : HeadFacts {
  std::array<Header, kMaxHeaders> headers;
  std::size_t header_count = 0;
  /// Where the field lines end: the empty line that closes the head (a copy of a run of
  /// fields ends there or at the next field's name).
  const char* fields_end = nullptr;

  /// Forgets a previous parse. Only the facts and the count are reset: the 4 KB of field
  /// slots are overwritten as fields are parsed, and never read past `header_count`.
  void clear() {
    static_cast<HeadFacts&>(*this) = HeadFacts{};
    header_count = 0;
    fields_end = nullptr;
  }

  /// The header fields that were parsed.
  [[nodiscard]] const Header* begin() const { return headers.data(); }
  /// One past the last parsed header field.
  [[nodiscard]] const Header* end() const { return headers.data() + header_count; }
};

/// What a parse attempt found.
enum class ParseStatus : std::uint8_t { complete, incomplete, error };

/// Result of parsing a head: on error, `status` is the HTTP status to answer with.
struct ParseResult {
  ParseStatus state = ParseStatus::incomplete;
  std::size_t head_bytes = 0;  ///< bytes of the head, including the final empty line
  int error_status = 0;        ///< 400, 431, 501 or 505 for requests; responses use 502
  std::string_view error;      ///< short reason, for logs and error bodies
};

/// Parses an HTTP/1.1 request head from `data` strictly (RFC 9112): anything ambiguous is an
/// error, so that the proxy never forwards a message another parser could read differently.
/// `max_bytes` bounds the head; a longer one is a 431 error.
ParseResult parse_request_head(std::string_view data, std::size_t max_bytes, MessageHead& head);

/// Parses an HTTP/1.1 response head with the same strictness. `request_method` decides whether
/// the response can have a body (HEAD never does).
ParseResult parse_response_head(std::string_view data, std::size_t max_bytes,
                                std::string_view request_method, MessageHead& head);

/// Whether `c` may appear in a token (RFC 9110 §5.6.2).
bool is_token_char(unsigned char c);

/// Splits one field line (`name: value`, no CRLF) into `field` and checks it (RFC 9112 §5,
/// RFC 9110 §5.5). Returns an empty reason when it is valid, else why it is not.
std::string_view parse_field_line(std::string_view line, Header& field);

/// Whether `host` is a valid Host value or authority: uri-host [":" port] (RFC 9110 §7.2,
/// RFC 3986 §3.2.2), without userinfo and without commas. An empty value is valid.
bool valid_host(std::string_view host);

/// ASCII case-insensitive equality, as header names and tokens compare.
bool iequals(std::string_view a, std::string_view b);

/// `s` without the optional whitespace (spaces and tabs, RFC 9110 §5.6.3) around it.
inline std::string_view trim_ows(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

/// Calls `fn(token)` for each comma-separated element of a list-valued field, trimmed of OWS.
template <typename Fn>
void for_each_list_element(std::string_view value, Fn&& fn) {
  while (!value.empty()) {
    std::size_t comma = value.find(',');
    const std::string_view item = trim_ows(value.substr(0, comma));
    if (!item.empty()) {
      fn(item);
    }
    if (comma == std::string_view::npos) {
      break;
    }
    value.remove_prefix(comma + 1);
  }
}

}  // namespace handoff::proxy
