#include "proxy/http/forward_headers.hpp"

#include <fmt/format.h>

#include <array>
#include <charconv>
#include <cstring>
#include <string_view>

namespace handoff::proxy {
namespace {

using namespace std::string_view_literals;

/// Field names listed in a Connection header (other than close/keep-alive/upgrade); they are
/// hop-by-hop for this message (RFC 9110 §7.6.1).
class ConnectionOptions {
 public:
  explicit ConnectionOptions(const MessageHead& head) {
    for (const Header& h : head) {
      if (h.token == HeaderToken::connection) {
        for_each_list_element(h.value, [&](std::string_view opt) {
          if (count_ < names_.size()) {
            names_[count_++] = opt;
          }
        });
      }
    }
  }

  [[nodiscard]] bool names(std::string_view field) const {
    for (std::size_t i = 0; i < count_; ++i) {
      if (iequals(names_[i], field)) {
        return true;
      }
    }
    return false;
  }

 private:
  std::array<std::string_view, 16> names_{};
  std::size_t count_ = 0;
};

/// Writes a head into a string through a cursor: the room is made once, for the longest head
/// the parts can make, so that each part is one copy rather than a call that checks capacity.
class HeadWriter {
 public:
  /// Appends to `out`, which grows by at most `most` bytes.
  HeadWriter(std::string& out, std::size_t most) : out_(out) {
    const std::size_t start = out_.size();
    out_.resize(start + most);
    cursor_ = out_.data() + start;
  }
  HeadWriter(const HeadWriter&) = delete;
  HeadWriter& operator=(const HeadWriter&) = delete;
  /// Trims the string to what was written.
  ~HeadWriter() { out_.resize(static_cast<std::size_t>(cursor_ - out_.data())); }

  void append(std::string_view part) {
    if (!part.empty()) {  // an empty view may hold a null pointer, which memcpy must not get
      std::memcpy(cursor_, part.data(), part.size());
      cursor_ += part.size();
    }
  }
  void append(const char* begin, std::size_t size) { append(std::string_view(begin, size)); }
  void push_back(char c) { *cursor_++ = c; }

 private:
  std::string& out_;
  char* cursor_;
};

// Room for everything a head rewrite adds besides the parts it is given: the fixed field names
// and values, a Content-Length of 20 digits, the separators.
constexpr std::size_t kFixedRoom = 512;

// The bytes of `head`'s field lines as received (an upper bound of what copying them takes).
std::size_t field_bytes(const MessageHead& head) {
  if (head.header_count > 0 && head.fields_end != nullptr) {
    return static_cast<std::size_t>(head.fields_end - head.headers[0].name.data());
  }
  std::size_t n = 0;
  for (const Header& h : head) {
    n += h.name.size() + h.value.size() + 4;
  }
  return n;
}

void append_field(HeadWriter& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": "sv);
  out.append(value);
  out.append("\r\n"sv);
}

void append_content_length(HeadWriter& out, std::uint64_t length) {
  out.append("Content-Length: "sv);
  char digits[20];
  const char* end = std::to_chars(std::begin(digits), std::end(digits), length).ptr;
  out.append(digits, static_cast<std::size_t>(end - digits));
  out.append("\r\n"sv);
}

/// Whether a field value is a list (holds a comma).
bool is_list(std::string_view value) {
  return value.find(',') != std::string_view::npos;
}

/// Copies kept field lines as they arrived, a run of neighbouring ones in one append: most
/// fields pass unchanged, and rebuilding each from its name and value costs four appends.
/// The bytes are those the parser validated; only the whitespace around a value may differ
/// from a rebuilt line, and it is valid as it stands (RFC 9112 §5).
class FieldRuns {
 public:
  FieldRuns(const MessageHead& head, HeadWriter& out) : head_(head), out_(out) {}
  FieldRuns(const FieldRuns&) = delete;
  FieldRuns& operator=(const FieldRuns&) = delete;

  /// Keeps `field` (one of the head's): it joins the current run, or starts the next.
  void keep(const Header& field) {
    if (head_.fields_end == nullptr) {
      append_field(out_, field.name, field.value);  // a head not read by the parser
      return;
    }
    const std::size_t i = static_cast<std::size_t>(&field - head_.headers.data());
    if (field.name.data() != run_end_) {
      flush();
      run_start_ = field.name.data();
    }
    run_end_ = i + 1 < head_.header_count ? head_.headers[i + 1].name.data() : head_.fields_end;
  }

  /// Appends the run kept so far: before anything else is appended.
  void flush() {
    if (run_start_ != nullptr) {
      out_.append(run_start_, static_cast<std::size_t>(run_end_ - run_start_));
    }
    run_start_ = run_end_ = nullptr;
  }

 private:
  const MessageHead& head_;
  HeadWriter& out_;
  const char* run_start_ = nullptr;
  const char* run_end_ = nullptr;
};

}  // namespace

namespace {

/// What becomes of a client's request field on its way upstream.
enum class RequestField : std::uint8_t {
  copy,           ///< forwarded as it is
  drop,           ///< restated by the proxy, or not for the upstream
  via,            ///< extended with the proxy's own entry
  forwarded_for,  ///< extended with the client's address
  request_id,     ///< forwarded, and the proxy adds none
};

// What becomes of a request field, from its token.
RequestField classify_request_field(HeaderToken token, bool expect_continue) {
  switch (token) {
    case HeaderToken::via:
      return RequestField::via;
    case HeaderToken::x_forwarded_for:
      return RequestField::forwarded_for;
    case HeaderToken::x_request_id:
      return RequestField::request_id;
    case HeaderToken::expect:
      // The proxy sends 100 Continue itself (RFC 9110 §10.1.1).
      return expect_continue ? RequestField::drop : RequestField::copy;
    default:
      return has_flag(token, kHopByHop) || has_flag(token, kFraming) ||
                     has_flag(token, kSetByProxyOnRequest)
                 ? RequestField::drop
                 : RequestField::copy;
  }
}

/// The client's fields the proxy extends rather than copies.
struct ExtendedFields {
  std::string_view forwarded_for;
  std::string_view via;
  std::string_view request_id;
};

// The framing, upgrade and forwarding fields the proxy states itself, then the end of the head.
// Returns the request id the upstream sees.
std::string_view append_proxy_fields(const MessageHead& req, const RequestForwarding& fwd,
                                     const ExtendedFields& seen, HeadWriter& out) {
  if (req.body == BodyKind::chunked) {
    out.append("Transfer-Encoding: chunked\r\n"sv);
  } else if (req.body == BodyKind::length) {
    append_content_length(out, req.content_length);
  }
  if (req.connection_upgrade && req.websocket_upgrade) {
    out.append("Connection: upgrade\r\nUpgrade: websocket\r\n"sv);
  }
  out.append("X-Forwarded-For: "sv);
  if (!seen.forwarded_for.empty()) {
    out.append(seen.forwarded_for);
    out.append(", "sv);
  }
  out.append(fwd.client_ip);
  out.append(fwd.https ? "\r\nX-Forwarded-Proto: https\r\n"sv
                       : "\r\nX-Forwarded-Proto: http\r\n"sv);
  if (!req.host.empty()) {
    append_field(out, "X-Forwarded-Host", req.host);
  }
  out.append("Via: "sv);
  if (!seen.via.empty()) {
    out.append(seen.via);
    out.append(", "sv);
  }
  out.append(req.version_minor == 0 ? "1.0 handoff\r\n"sv : "1.1 handoff\r\n"sv);
  std::string_view request_id = seen.request_id;
  if (request_id.empty()) {
    request_id = fwd.request_id;
    append_field(out, "X-Request-Id", request_id);
  }
  out.append("\r\n"sv);
  return request_id;
}

}  // namespace

std::string_view build_upstream_request(const MessageHead& req, const RequestForwarding& fwd,
                                        std::string& into) {
  HeadWriter out(into, kFixedRoom + req.method.size() + req.target.size() + 2 * req.host.size() +
                           fwd.client_ip.size() + fwd.request_id.size() + field_bytes(req));
  const ConnectionOptions options(req);
  out.append(req.method);
  out.push_back(' ');
  if (req.target.empty() || (req.target.front() != '/' && req.target != "*")) {
    out.push_back('/');  // an absolute-form target without a path, or with only a query
  }
  out.append(req.target);
  out.append(" HTTP/1.1\r\n"sv);
  // Restated from the parsed head: an absolute-form target's authority replaces the Host
  // field (RFC 9112 §3.2.2), and HTTP/1.1 needs a Host, empty when there is no authority.
  append_field(out, "Host", req.host);
  ExtendedFields seen;
  FieldRuns copied(req, out);
  for (const Header& h : req) {
    const RequestField kind = classify_request_field(h.token, req.expect_continue);
    if (kind == RequestField::drop || options.names(h.name)) {
      continue;
    }
    if (kind == RequestField::via) {
      seen.via = h.value;
    } else if (kind == RequestField::forwarded_for) {
      seen.forwarded_for = h.value;
    } else {
      if (kind == RequestField::request_id) {
        seen.request_id = h.value;
      }
      copied.keep(h);
    }
  }
  copied.flush();
  return append_proxy_fields(req, fwd, seen, out);
}

void build_client_response(const MessageHead& resp, const ResponseForwarding& fwd,
                           std::string& into) {
  HeadWriter out(into, kFixedRoom + resp.reason.size() + fwd.extra_field.size() +
                           fwd.set_cookie.size() + field_bytes(resp));
  const ConnectionOptions options(resp);
  const bool switching = resp.status == 101;
  std::string_view via;
  std::string_view upgrade;
  std::string_view transfer_encoding;

  out.append("HTTP/1.1 "sv);
  // A status is three digits (the parser allows 100-599 only).
  out.push_back(static_cast<char>('0' + resp.status / 100));
  out.push_back(static_cast<char>('0' + resp.status / 10 % 10));
  out.push_back(static_cast<char>('0' + resp.status % 10));
  out.push_back(' ');
  out.append(resp.reason);
  out.append("\r\n"sv);
  FieldRuns copied(resp, out);
  for (const Header& h : resp) {
    if (h.token == HeaderToken::upgrade) {
      upgrade = h.value;
    } else if (h.token == HeaderToken::transfer_encoding) {
      transfer_encoding = h.value;
    } else if (has_flag(h.token, kHopByHop) || options.names(h.name)) {
      continue;
    } else if (h.token == HeaderToken::via) {
      via = h.value;
    } else if (h.token == HeaderToken::content_length && is_list(h.value)) {
      // A list of identical values (the parser refused differing ones) is one length to a
      // recipient (RFC 9110 §8.6); a strict client refuses the list, so one value goes on.
      copied.flush();
      append_content_length(out, resp.content_length);
    } else {
      copied.keep(h);
    }
  }
  copied.flush();
  if (!transfer_encoding.empty() && !fwd.dechunk) {
    // Passed on as received: the chunked framing is relayed verbatim after validation.
    append_field(out, "Transfer-Encoding", transfer_encoding);
  }
  out.append("Via: "sv);
  if (!via.empty()) {
    out.append(via);
    out.append(", "sv);
  }
  out.append(resp.version_minor == 0 ? "1.0 handoff\r\n"sv : "1.1 handoff\r\n"sv);
  if (switching) {
    append_field(out, "Connection", "upgrade");
    if (!upgrade.empty()) {
      append_field(out, "Upgrade", upgrade);
    }
  } else if (fwd.close) {
    out.append("Connection: close\r\n"sv);
  } else if (fwd.keep_alive_10) {
    out.append("Connection: keep-alive\r\n"sv);
  }
  if (!fwd.extra_field.empty()) {
    out.append(fwd.extra_field);
    out.append("\r\n"sv);
  }
  if (!fwd.set_cookie.empty()) {
    append_field(out, "Set-Cookie", fwd.set_cookie);
  }
  out.append("\r\n"sv);
}

void build_h2_response(const MessageHead& resp, std::string_view extra_field, FieldBlock& out,
                       std::string_view set_cookie) {
  out.clear();
  const std::array<char, 3> status = {static_cast<char>('0' + resp.status / 100),
                                      static_cast<char>('0' + resp.status / 10 % 10),
                                      static_cast<char>('0' + resp.status % 10)};
  out.add(":status"sv, std::string_view(status.data(), status.size()));
  const ConnectionOptions options(resp);
  std::string_view via;
  for (const Header& h : resp) {
    if (has_flag(h.token, kHopByHop) || h.token == HeaderToken::transfer_encoding ||
        options.names(h.name)) {
      continue;
    }
    if (h.token == HeaderToken::via) {
      via = h.value;
    } else if (h.token == HeaderToken::content_length && is_list(h.value)) {
      out.add("content-length"sv, std::to_string(resp.content_length));  // RFC 9110 §8.6
    } else {
      out.add(h.name, h.value);
    }
  }
  const std::string_view own = resp.version_minor == 0 ? "1.0 handoff"sv : "1.1 handoff"sv;
  if (via.empty()) {
    out.add("via"sv, own);
  } else {
    out.add("via"sv, fmt::format("{}, {}", via, own));
  }
  if (const std::size_t colon = extra_field.find(':'); colon != std::string_view::npos) {
    std::string_view value = extra_field.substr(colon + 1);
    while (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
    out.add(extra_field.substr(0, colon), value);
  }
  if (!set_cookie.empty()) {
    out.add("set-cookie"sv, set_cookie);
  }
}

std::string https_location_field(std::string_view host, std::string_view target,
                                 std::uint16_t port) {
  // The Host field's name without its port ("[::1]:8080" → "[::1]").
  const std::size_t bracket = host.rfind(']');
  const std::size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    host = host.substr(0, colon);
  }
  return port == 443 ? fmt::format("Location: https://{}{}", host, target)
                     : fmt::format("Location: https://{}:{}{}", host, port, target);
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
    case 301:
      return "Moved Permanently";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 413:
      return "Content Too Large";
    case 431:
      return "Request Header Fields Too Large";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      return "Error";
  }
}

std::string make_plain_response(int status, std::string_view text, bool close,
                                std::string_view extra_field) {
  return fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n"
      "{}{}{}\r\n{}\n",
      status, reason_phrase(status), text.size() + 1, extra_field,
      extra_field.empty() ? "" : "\r\n", close ? "Connection: close\r\n" : "", text);
}

}  // namespace handoff::proxy
