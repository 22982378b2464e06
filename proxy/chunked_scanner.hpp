#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace handoff::proxy {

/// Follows a chunked body (RFC 9112 §7.1) as its bytes pass through the proxy: it validates
/// the framing, reports the chunk data, and says where the body ends. The bytes themselves are
/// relayed verbatim, so nothing is buffered here.
class ChunkedScanner {
 public:
  /// Scans `data`; returns how many of its bytes belong to the body, which is all of them
  /// unless the body ends inside `data`. `on_data(const char*, size_t)` receives each run of
  /// chunk data (used to remove the chunked framing for HTTP/1.0 clients).
  template <typename OnData>
  std::size_t feed(std::string_view data, OnData&& on_data);

  /// Scans `data` without looking at the chunk data.
  std::size_t feed(std::string_view data) {
    return feed(data, [](const char*, std::size_t) {});
  }

  /// The last chunk and the trailer section have been seen.
  [[nodiscard]] bool done() const { return state_ == State::done; }
  /// The framing is invalid; `error()` says how.
  [[nodiscard]] bool failed() const { return state_ == State::error; }
  /// Why the framing is invalid.
  [[nodiscard]] std::string_view error() const { return error_; }

 private:
  enum class State : std::uint8_t {
    size,
    size_ws,
    ext,
    size_lf,
    data,
    data_cr,
    data_lf,
    trailer_start,
    trailer_line,
    trailer_lf,
    final_lf,
    done,
    error
  };

  bool step(char c);
  bool fail(std::string_view why) {
    state_ = State::error;
    error_ = why;
    return false;
  }

  State state_ = State::size;
  std::uint64_t remaining_ = 0;
  unsigned digits_ = 0;
  std::size_t line_bytes_ = 0;
  std::size_t trailer_bytes_ = 0;
  std::string_view error_;
};

template <typename OnData>
std::size_t ChunkedScanner::feed(std::string_view data, OnData&& on_data) {
  std::size_t i = 0;
  while (i < data.size() && state_ != State::done && state_ != State::error) {
    if (state_ == State::data) {
      std::size_t take = data.size() - i;
      if (take > remaining_) {
        take = static_cast<std::size_t>(remaining_);
      }
      on_data(data.data() + i, take);
      i += take;
      remaining_ -= take;
      if (remaining_ == 0) {
        state_ = State::data_cr;
      }
      continue;
    }
    if (!step(data[i])) {
      return i;
    }
    ++i;
  }
  return i;
}

}  // namespace handoff::proxy
