#include "proxy/chunked_scanner.hpp"

namespace handoff::proxy {
namespace {

constexpr std::size_t kMaxLineBytes = 4096;
constexpr std::size_t kMaxTrailerBytes = 16384;
constexpr unsigned kMaxSizeDigits = 15;  // keeps the size below 2^60

int hex_value(char c) {
  if (c >= '0' && c <= '9') {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}

bool is_control(char c) {
  auto u = static_cast<unsigned char>(c);
  return (u < 0x20 && c != '\t') || u == 0x7f;
}

}  // namespace

bool ChunkedScanner::step(char c) {
  switch (state_) {
    case State::size: {
      int v = hex_value(c);
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
      line_bytes_ = 0;
      if (c == '\r') {
        state_ = State::size_lf;
      } else if (c == ';') {
        state_ = State::ext;
      } else if (c == ' ' || c == '\t') {
        state_ = State::size_ws;  // BWS before a chunk extension
      } else {
        return fail("invalid chunk size");
      }
      return true;
    }
    case State::size_ws:
      if (c == ';') {
        state_ = State::ext;
      } else if (c != ' ' && c != '\t') {
        return fail("invalid chunk extension");
      }
      return true;
    case State::ext:
      if (c == '\r') {
        state_ = State::size_lf;
      } else if (is_control(c) || ++line_bytes_ > kMaxLineBytes) {
        return fail("invalid chunk extension");
      }
      return true;
    case State::size_lf:
      if (c != '\n') {
        return fail("chunk size line not ended by CRLF");
      }
      digits_ = 0;
      state_ = remaining_ == 0 ? State::trailer_start : State::data;
      return true;
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
      return true;
    case State::trailer_start:
      if (c == '\r') {
        state_ = State::final_lf;
        return true;
      }
      if (c == ' ' || c == '\t' || c == ':' || is_control(c)) {
        return fail("invalid trailer field");
      }
      state_ = State::trailer_line;
      [[fallthrough]];
    case State::trailer_line:
      if (++trailer_bytes_ > kMaxTrailerBytes) {
        return fail("trailer section too large");
      }
      if (c == '\r') {
        state_ = State::trailer_lf;
      } else if (is_control(c)) {
        return fail("invalid trailer field");
      }
      return true;
    case State::trailer_lf:
      if (c != '\n') {
        return fail("trailer line not ended by CRLF");
      }
      state_ = State::trailer_start;
      return true;
    case State::final_lf:
      if (c != '\n') {
        return fail("chunked body not ended by CRLF");
      }
      state_ = State::done;
      return true;
    case State::data:
    case State::done:
    case State::error:
      break;
  }
  return fail("internal chunked scanner state");
}

}  // namespace handoff::proxy
