#include "proxy/http/chunked_scanner.hpp"

#include <array>

#include "proxy/http/http_head.hpp"
#include "proxy/http/whole_number.hpp"

namespace handoff::proxy {
namespace {

constexpr std::size_t kMaxLineBytes = 4096;
constexpr std::size_t kMaxTrailerBytes = 16384;
constexpr unsigned kMaxSizeDigits = 15;  // keeps the size below 2^60

bool is_ws(char c) {
  return c == ' ' || c == '\t';
}

// RFC 9110 §5.6.4: qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text.
bool is_qdtext(char c) {
  auto u = static_cast<unsigned char>(c);
  return c == '\t' || c == ' ' || u == 0x21 || (u >= 0x23 && u <= 0x5b) ||
         (u >= 0x5d && u <= 0x7e) || u >= 0x80;
}

// RFC 9110 §5.6.4: quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text ).
bool is_quoted_pair_char(char c) {
  auto u = static_cast<unsigned char>(c);
  return c == '\t' || (u >= 0x20 && u != 0x7f);
}

// RFC 9110 §6.5.1: fields that framing, routing, authentication or the payload's processing
// depend on must not be trailers. They are dropped, as a recipient may do, so that no peer that
// merges trailers into the head acts on them.
bool is_forbidden_trailer(std::string_view name) {
  static constexpr std::array<std::string_view, 16> kForbidden = {
      "content-length", "transfer-encoding",
      "host",           "connection",
      "keep-alive",     "te",
      "trailer",        "upgrade",
      "content-type",   "content-encoding",
      "content-range",  "authorization",
      "cache-control",  "expect",
      "max-forwards",   "proxy-authorization"};
  for (std::string_view f : kForbidden) {
    if (iequals(name, f)) {
      return true;
    }
  }
  return false;
}

void append_hex(std::string& out, std::uint64_t n) {
  char digits[16];
  int count = 0;
  do {
    digits[count++] = "0123456789abcdef"[n & 0xf];
    n >>= 4;
  } while (n != 0);
  while (count > 0) {
    out.push_back(digits[--count]);
  }
}

}  // namespace

std::size_t ChunkedScanner::feed(std::string_view data, std::string& out) {
  std::size_t i = 0;
  while (i < data.size() && state_ != State::done && state_ != State::error) {
    if (state_ == State::data) {
      std::size_t take = data.size() - i;
      if (take > remaining_) {
        take = static_cast<std::size_t>(remaining_);
      }
      out.append(data.data() + i, take);
      i += take;
      remaining_ -= take;
      if (remaining_ == 0) {
        state_ = State::data_cr;
      }
      continue;
    }
    if (!step(data[i], out)) {
      return i;
    }
    ++i;
  }
  return i;
}

// The chunk-size line: chunk-size [ chunk-ext ] CRLF, with
// chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ), ext-val = token / quoted-string
// (RFC 9112 §7.1.1). Extensions are checked and then left out of what is passed on.
bool ChunkedScanner::chunk_line_byte(char c) {
  if (++line_bytes_ > kMaxLineBytes) {
    return fail("chunk size line too long");
  }
  const bool tchar = is_token_char(static_cast<unsigned char>(c));
  const auto bad = [this] { return fail("invalid chunk extension"); };
  switch (state_) {
    case State::size_ws:
      return after_element(c, State::size_ws) || bad();
    case State::ext_name_ws:
      if (tchar) {
        state_ = State::ext_name;
      } else if (!is_ws(c)) {
        return bad();
      }
      return true;
    case State::ext_name:
    case State::ext_name_end:
      if (c == '=') {
        state_ = State::ext_value_ws;
        return true;
      }
      return (tchar && state_ == State::ext_name) || after_element(c, State::ext_name_end) || bad();
    case State::ext_value_token:
      return tchar || after_element(c, State::size_ws) || bad();
    case State::ext_value_ws:
      if (tchar) {
        state_ = State::ext_value_token;
      } else if (c == '"') {
        state_ = State::ext_quoted;
      } else if (!is_ws(c)) {
        return bad();
      }
      return true;
    case State::ext_quoted:
      if (c == '"') {
        state_ = State::size_ws;
      } else if (c == '\\') {
        state_ = State::ext_quoted_pair;
      } else if (!is_qdtext(c)) {
        return bad();
      }
      return true;
    case State::ext_quoted_pair:
      if (!is_quoted_pair_char(c)) {
        return bad();
      }
      state_ = State::ext_quoted;
      return true;
    default:
      return fail("internal chunked scanner state");
  }
}

// What may follow an extension's name or value, or the BWS after them: ';' opens the next
// extension, CR ends the line, whitespace is BWS (the scanner moves to `on_ws`). False for
// anything else.
bool ChunkedScanner::after_element(char c, State on_ws) {
  if (c == ';') {
    state_ = State::ext_name_ws;
  } else if (c == '\r') {
    state_ = State::size_lf;
  } else if (is_ws(c)) {
    state_ = on_ws;
  } else {
    return false;
  }
  return true;
}

bool ChunkedScanner::end_size_line(std::string& out) {
  digits_ = 0;
  line_bytes_ = 0;
  if (remaining_ == 0) {
    state_ = State::trailer;
    if (output_ == ChunkedOutput::reframe) {
      out.append("0\r\n");
    }
    return true;
  }
  data_bytes_ += remaining_;
  state_ = State::data;
  if (output_ == ChunkedOutput::reframe) {
    append_hex(out, remaining_);
    out.append("\r\n");
  }
  return true;
}

// A trailer line is a field line, checked as the head's are (RFC 9112 §7.1.2).
bool ChunkedScanner::end_trailer_line(std::string& out) {
  if (trailer_line_.empty()) {
    state_ = State::done;
    if (output_ == ChunkedOutput::reframe) {
      out.append("\r\n");
    }
    return true;
  }
  Header field;
  if (std::string_view why = parse_field_line(trailer_line_, field); !why.empty()) {
    return fail("invalid trailer field");
  }
  if (!is_forbidden_trailer(field.name)) {
    std::string& to = output_ == ChunkedOutput::reframe ? out : trailers_;
    to.append(field.name);
    to.append(": ");
    to.append(field.value);
    to.append("\r\n");
  }
  trailer_line_.clear();
  state_ = State::trailer;
  return true;
}

bool ChunkedScanner::step(char c, std::string& out) {
  switch (state_) {
    case State::size: {
      const int v = hex_digit_value(c);
      if (v >= 0) {
        if (++digits_ > kMaxSizeDigits) {
          return fail("chunk size too large");
        }
        remaining_ = remaining_ * 16 + static_cast<unsigned>(v);
        return true;
      }
      if (digits_ == 0) {
        return fail("invalid chunk size");
      }
      if (c != '\r' && c != ';' && !is_ws(c)) {
        return fail("invalid chunk size");
      }
      state_ = State::size_ws;
      return chunk_line_byte(c);
    }
    case State::size_lf:
      if (c != '\n') {
        return fail("chunk size line not ended by CRLF");
      }
      return end_size_line(out);
    case State::data_cr:
      if (c != '\r') {
        return fail("chunk data not followed by CRLF");
      }
      state_ = State::data_lf;
      return true;
    case State::data_lf:
      if (c != '\n') {
        return fail("chunk data not followed by CRLF");
      }
      state_ = State::size;
      if (output_ == ChunkedOutput::reframe) {
        out.append("\r\n");
      }
      return true;
    case State::trailer:
      if (++trailer_bytes_ > kMaxTrailerBytes) {
        return fail("trailer section too large");
      }
      if (c == '\r') {
        state_ = State::trailer_lf;
      } else {
        trailer_line_.push_back(c);
      }
      return true;
    case State::trailer_lf:
      if (c != '\n') {
        return fail("trailer line not ended by CRLF");
      }
      return end_trailer_line(out);
    case State::data:
    case State::done:
    case State::error:
      return fail("internal chunked scanner state");
    default:
      return chunk_line_byte(c);
  }
}

}  // namespace handoff::proxy
