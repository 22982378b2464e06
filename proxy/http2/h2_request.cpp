#include "proxy/http2/h2_request.hpp"

#include "proxy/http/header_token.hpp"
#include "proxy/http/http_head.hpp"

namespace handoff::proxy {

namespace {

using namespace std::string_view_literals;

// RFC 9113 §8.2.1: a name in lower case made of token characters; a value without NUL, CR or
// LF and without white space at either end.
bool valid_name(std::string_view name) {
  if (name.empty()) {
    return false;
  }
  for (const char c : name) {
    if ((c >= 'A' && c <= 'Z') || !is_token_char(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return true;
}

bool valid_value(std::string_view value) {
  if (!value.empty() && (value.front() == ' ' || value.front() == '\t' || value.back() == ' ' ||
                         value.back() == '\t')) {
    return false;
  }
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u == 0 || u == '\r' || u == '\n' || (u < 0x20 && u != '\t') || u == 0x7f) {
      return false;
    }
  }
  return true;
}

}  // namespace

void H2RequestHead::clear() {
  method_.clear();
  scheme_.clear();
  authority_.clear();
  path_.clear();
  host_.clear();
  fields_.clear();
  cookie_.clear();
  trailers_.clear();
  regular_seen_ = has_length_ = false;
  bytes_ = fields_count_ = 0;
  verdict_ = {};
}

bool H2RequestHead::add(std::string_view name, std::string_view value) {
  bytes_ += name.size() + value.size() + 32;
  if (name.empty()) {
    return refuse(-1, "a malformed field");
  }
  if (verdict_.refusal != 0) {
    return false;  // already refused: the rest is only counted
  }
  if (bytes_ > max_bytes_ || (name.front() != ':' && ++fields_count_ > kMaxHeaders)) {
    return refuse(431, "request header fields too large");
  }
  if (name.front() == ':') {
    return pseudo(name, value);
  }
  regular_seen_ = true;
  if (!valid_name(name) || !valid_value(value)) {
    return refuse(-1, "a malformed field");
  }
  return regular(name, value);
}

// Each request pseudo-header once, before every regular field; no other (RFC 9113 §8.3.1).
bool H2RequestHead::pseudo(std::string_view name, std::string_view value) {
  if (regular_seen_) {
    return refuse(-1, "a pseudo-header after a regular field");
  }
  std::string* slot = nullptr;
  if (name == ":method"sv) {
    slot = &method_;
  } else if (name == ":scheme"sv) {
    slot = &scheme_;
  } else if (name == ":authority"sv) {
    slot = &authority_;
  } else if (name == ":path"sv) {
    slot = &path_;
  } else {
    return refuse(-1, "an unknown pseudo-header");
  }
  if (!slot->empty() || value.empty() || !valid_value(value)) {
    return refuse(-1, "a repeated, empty or malformed pseudo-header");
  }
  slot->assign(value);
  return true;
}

// Connection-specific fields make a request malformed (§8.2.2); TE may only say "trailers".
bool H2RequestHead::regular(std::string_view name, std::string_view value) {
  const HeaderToken token = header_token(name);
  if (token == HeaderToken::te) {
    if (value != "trailers"sv) {
      return refuse(-1, "TE other than trailers");
    }
  } else if (has_flag(token, kHopByHop) || token == HeaderToken::transfer_encoding) {
    return refuse(-1, "a connection-specific field");
  }
  if (name == "cookie"sv) {
    if (!cookie_.empty()) {
      cookie_.append("; "sv);
    }
    cookie_.append(value);
    return true;
  }
  if (token == HeaderToken::host) {
    host_.assign(value);
    return true;
  }
  has_length_ = has_length_ || token == HeaderToken::content_length;
  fields_.append(name);
  fields_.append(": "sv);
  fields_.append(value);
  fields_.append("\r\n"sv);
  return true;
}

H2RequestVerdict H2RequestHead::finish(bool has_body, std::string& head) {
  if (verdict_.refusal == 0 && method_ == "CONNECT"sv) {
    refuse(405, "CONNECT is not supported");
  }
  if (verdict_.refusal == 0 && (method_.empty() || scheme_.empty() || path_.empty())) {
    refuse(-1, "a request without :method, :scheme or :path");
  }
  if (verdict_.refusal != 0) {
    return verdict_;
  }
  const std::string_view host = authority_.empty() ? std::string_view(host_) : authority_;
  head.clear();
  head.reserve(method_.size() + path_.size() + host.size() + fields_.size() + cookie_.size() + 64);
  head.append(method_).append(" "sv).append(path_).append(" HTTP/1.1\r\nHost: "sv);
  head.append(host).append("\r\n"sv).append(fields_);
  if (!cookie_.empty()) {
    head.append("cookie: "sv).append(cookie_).append("\r\n"sv);
  }
  if (has_body && !has_length_) {
    head.append("Transfer-Encoding: chunked\r\n"sv);
  }
  head.append("\r\n"sv);
  return verdict_;
}

bool H2RequestHead::add_trailer(std::string_view name, std::string_view value) {
  if (!valid_name(name) || !valid_value(value)) {
    return false;
  }
  const HeaderToken token = header_token(name);
  if (token != HeaderToken::other) {
    return false;  // framing, routing and connection fields have no place in a trailer
  }
  trailers_.append(name).append(": "sv).append(value).append("\r\n"sv);
  return true;
}

std::string H2RequestHead::last_chunk() const {
  std::string last = "0\r\n";
  last.append(trailers_).append("\r\n"sv);
  return last;
}

}  // namespace handoff::proxy
