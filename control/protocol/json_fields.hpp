#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "control/protocol/field_limits.hpp"

namespace handoff::control {

/// The fields of one control-API request body, read strictly: the body must be one JSON object
/// without repeated keys, each field must have the expected type and range, and `finish()`
/// refuses every field that no reader asked for. Errors are DomainError 400 naming the field, so
/// that a misspelt option is never silently ignored.
class JsonFields {
 public:
  /// Parses `body` ({} when empty).
  explicit JsonFields(std::string_view body);

  /// Whether the field is present.
  [[nodiscard]] bool has(std::string_view key) const { return object_.contains(key); }
  /// A string field; missing: `fallback`, or a 400 when `required`.
  std::string string(std::string_view key, bool required = false, std::string fallback = {});
  /// A duration written like "30s"; missing: `fallback`.
  std::chrono::milliseconds duration(std::string_view key, std::chrono::milliseconds fallback);
  /// A percentage ("10%", "0.5%", or a number) in hundredths of a percent; missing: `fallback`.
  std::uint32_t percent(std::string_view key, std::uint32_t fallback);
  /// A whole number within `range`; missing: `fallback`.
  std::int64_t integer(std::string_view key, FieldRange range, std::int64_t fallback);
  /// true or false; missing: `fallback`.
  bool boolean(std::string_view key, bool fallback);
  /// An array of strings (`what` describes them in the error); missing: empty.
  std::vector<std::string> strings(std::string_view key, std::string_view what);
  /// One string or an array of at least one (e.g. upstream addresses: "to": "A" or
  /// "to": ["A", "B"]); missing: empty, or a 400 when `required`.
  std::vector<std::string> one_or_more(std::string_view key, std::string_view what, bool required);
  /// Refuses the first field that was not read.
  void finish() const;

 private:
  const boost::json::value* take(std::string_view key);

  boost::json::object object_;
  std::set<std::string, std::less<>> read_;
};

// Lenient readers, for JSON that handoff itself wrote (answers, events, the takeover messages)
// or that a server it asked sent (ACME): a missing field reads as empty, never as an error.

/// A JSON field as text ("" when absent or null; non-strings serialized).
std::string field_text(const boost::json::object& o, std::string_view key);

/// The strings of a JSON array joined by `separator` (other values count as empty).
std::string join_strings(const boost::json::array& items, std::string_view separator);

/// A JSON number field (0 when absent or not a number).
std::int64_t field_number(const boost::json::object& o, std::string_view key);

/// The first key that appears twice in one object of the JSON text, or "" when none does (or
/// the text is not valid JSON, which the parser then reports).
std::string find_repeated_key(std::string_view text);

}  // namespace handoff::control
