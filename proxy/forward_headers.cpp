#include "proxy/forward_headers.hpp"

#include <fmt/format.h>

#include <array>

namespace handoff::proxy {
namespace {

/// Field names listed in a Connection header (other than close/keep-alive/upgrade); they are
/// hop-by-hop for this message (RFC 9110 §7.6.1).
class ConnectionOptions {
 public:
  explicit ConnectionOptions(const MessageHead& head) {
    for (const Header& h : head) {
      if (iequals(h.name, "connection")) {
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

/// Fields that never cross the proxy (RFC 9110 §7.6.1, plus the legacy Proxy-Connection).
/// Content-Length and Transfer-Encoding are restated by the relay from the parsed framing.
bool is_hop_by_hop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return iequals(name, "te");
    case 7:
      return iequals(name, "upgrade");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 16:
      return iequals(name, "proxy-connection");
    case 17:
      return iequals(name, "transfer-encoding");
    default:
      return false;
  }
}

void append_field(std::string& out, std::string_view name, std::string_view value) {
  out.append(name);
  out.append(": ");
  out.append(value);
  out.append("\r\n");
}

}  // namespace

std::string_view build_upstream_request(const MessageHead& req, const RequestForwarding& fwd,
                                        std::string& out) {
  const ConnectionOptions options(req);
  std::string_view forwarded_for;
  std::string_view via;
  std::string_view request_id;
  std::string_view upgrade;

  out.append(req.method);
  out.push_back(' ');
  if (req.target.empty() || (req.target.front() != '/' && req.target != "*")) {
    out.push_back('/');  // an absolute-form target without a path, or with only a query
  }
  out.append(req.target);
  out.append(" HTTP/1.1\r\n");
  // Restated from the parsed head: an absolute-form target's authority replaces the Host
  // field (RFC 9112 §3.2.2), and HTTP/1.1 needs a Host, empty when there is no authority.
  append_field(out, "Host", req.host);
  for (const Header& h : req) {
    const std::string_view n = h.name;
    if (is_hop_by_hop(n)) {
      if (n.size() == 7) {
        upgrade = h.value;
      }
      continue;
    }
    if (options.names(n)) {
      continue;
    }
    switch (n.size()) {
      case 3:
        if (iequals(n, "via")) {
          via = h.value;
          continue;
        }
        break;
      case 4:
        if (iequals(n, "host")) {
          continue;  // restated above
        }
        break;
      case 6:
        if (req.expect_continue && iequals(n, "expect")) {
          continue;  // the proxy sends 100 Continue itself (RFC 9110 §10.1.1)
        }
        break;
      case 12:
        if (iequals(n, "x-request-id")) {
          request_id = h.value;
        }
        break;
      case 14:
        if (iequals(n, "content-length")) {
          continue;  // restated below as one value
        }
        break;
      case 15:
        if (iequals(n, "x-forwarded-for")) {
          forwarded_for = h.value;
          continue;
        }
        break;
      case 16:
        if (iequals(n, "x-forwarded-host")) {
          continue;
        }
        break;
      case 17:
        if (iequals(n, "x-forwarded-proto")) {
          continue;
        }
        break;
      default:
        break;
    }
    append_field(out, n, h.value);
  }
  if (req.body == BodyKind::chunked) {
    out.append("Transfer-Encoding: chunked\r\n");
  } else if (req.body == BodyKind::length) {
    fmt::format_to(std::back_inserter(out), "Content-Length: {}\r\n", req.content_length);
  }
  if (req.connection_upgrade && !upgrade.empty()) {
    append_field(out, "Connection", "upgrade");
    append_field(out, "Upgrade", upgrade);
  }
  out.append("X-Forwarded-For: ");
  if (!forwarded_for.empty()) {
    out.append(forwarded_for);
    out.append(", ");
  }
  out.append(fwd.client_ip);
  out.append("\r\nX-Forwarded-Proto: http\r\n");
  if (!req.host.empty()) {
    append_field(out, "X-Forwarded-Host", req.host);
  }
  out.append("Via: ");
  if (!via.empty()) {
    out.append(via);
    out.append(", ");
  }
  out.append(req.version_minor == 0 ? "1.0 handoff\r\n" : "1.1 handoff\r\n");
  if (request_id.empty()) {
    request_id = fwd.request_id;
    append_field(out, "X-Request-Id", request_id);
  }
  out.append("\r\n");
  return request_id;
}

void build_client_response(const MessageHead& resp, const ResponseForwarding& fwd,
                           std::string& out) {
  const ConnectionOptions options(resp);
  const bool switching = resp.status == 101;
  std::string_view via;
  std::string_view upgrade;
  std::string_view transfer_encoding;

  out.append("HTTP/1.1 ");
  // A status is three digits (the parser allows 100-599 only).
  out.push_back(static_cast<char>('0' + resp.status / 100));
  out.push_back(static_cast<char>('0' + resp.status / 10 % 10));
  out.push_back(static_cast<char>('0' + resp.status % 10));
  out.push_back(' ');
  out.append(resp.reason);
  out.append("\r\n");
  for (const Header& h : resp) {
    const std::string_view n = h.name;
    if (is_hop_by_hop(n)) {
      if (n.size() == 7) {
        upgrade = h.value;
      } else if (n.size() == 17) {
        transfer_encoding = h.value;
      }
      continue;
    }
    if (options.names(n)) {
      continue;
    }
    if (n.size() == 3 && iequals(n, "via")) {
      via = h.value;
      continue;
    }
    append_field(out, n, h.value);
  }
  if (!transfer_encoding.empty() && !fwd.dechunk) {
    // Passed on as received: the chunked framing is relayed verbatim after validation.
    append_field(out, "Transfer-Encoding", transfer_encoding);
  }
  out.append("Via: ");
  if (!via.empty()) {
    out.append(via);
    out.append(", ");
  }
  out.append(resp.version_minor == 0 ? "1.0 handoff\r\n" : "1.1 handoff\r\n");
  if (switching) {
    append_field(out, "Connection", "upgrade");
    if (!upgrade.empty()) {
      append_field(out, "Upgrade", upgrade);
    }
  } else if (fwd.close) {
    out.append("Connection: close\r\n");
  } else if (fwd.keep_alive_10) {
    out.append("Connection: keep-alive\r\n");
  }
  out.append("\r\n");
}

std::string_view reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 200:
      return "OK";
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
