#pragma once

#include <cstdint>
#include <string_view>

namespace handoff::proxy {

/// One worker's request ids: a random 64-bit prefix and a count, as 32 lower-case hex digits.
/// The count is counted up in place, like an odometer, so that an id costs a digit or two
/// rather than a formatting of 64 bits: it runs for every request.
class RequestIds {
 public:
  /// Ids that start with `prefix` (as 16 hex digits); the first count is 1.
  explicit RequestIds(std::uint64_t prefix);

  /// The next id; valid until the next call.
  std::string_view next();

 private:
  char digits_[32];
};

}  // namespace handoff::proxy
