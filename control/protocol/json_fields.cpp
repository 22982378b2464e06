#include "control/protocol/json_fields.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "control/base/domain_error.hpp"
#include "control/protocol/duration.hpp"
#include "control/protocol/percent.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

/// A JSON event handler that only tracks object keys, to find one repeated in an object
/// (Boost.JSON keeps the last of repeated keys silently).
struct RepeatedKeyFinder {
  static constexpr std::size_t max_object_size = std::size_t(-1);
  static constexpr std::size_t max_array_size = std::size_t(-1);
  static constexpr std::size_t max_key_size = std::size_t(-1);
  static constexpr std::size_t max_string_size = std::size_t(-1);

  std::vector<std::set<std::string, std::less<>>> objects;  // keys of each open object
  std::vector<bool> in_object;                              // per open container
  std::string key;
  std::string repeated;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_object_begin(json::error_code&) {
    objects.emplace_back();
    in_object.push_back(true);
    return true;
  }
  bool on_object_end(std::size_t, json::error_code&) {
    objects.pop_back();
    in_object.pop_back();
    return true;
  }
  bool on_array_begin(json::error_code&) {
    in_object.push_back(false);
    return true;
  }
  bool on_array_end(std::size_t, json::error_code&) {
    in_object.pop_back();
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key.append(s.data(), s.size());
    if (!objects.back().insert(key).second && repeated.empty()) {
      repeated = key;
      ec = json::error::syntax;  // stop: one is enough
      return false;
    }
    key.clear();
    return true;
  }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_string(json::string_view, std::size_t, json::error_code&) { return true; }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(std::int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(std::uint64_t, json::string_view, json::error_code&) { return true; }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

[[noreturn]] void bad_field(std::string_view key, std::string_view must) {
  throw DomainError(ErrorKind::invalid, "bad_field",
                    fmt::format("field '{}' must be {}", key, must));
}

}  // namespace

std::string find_repeated_key(std::string_view text) {
  json::basic_parser<RepeatedKeyFinder> parser{json::parse_options{}};
  json::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return parser.handler().repeated;
}

JsonFields::JsonFields(std::string_view body) {
  if (body.empty()) {
    return;
  }
  json::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) {
    throw DomainError(ErrorKind::invalid, "bad_json", "the request body must be a JSON object");
  }
  if (std::string key = find_repeated_key(body); !key.empty()) {
    throw DomainError(ErrorKind::invalid, "repeated_field",
                      fmt::format("field '{}' is given more than once", key));
  }
  object_ = std::move(v.as_object());
}

const json::value* JsonFields::take(std::string_view key) {
  read_.emplace(key);
  return object_.if_contains(key);
}

std::string JsonFields::string(std::string_view key, bool required, std::string fallback) {
  const json::value* v = take(key);
  if (v == nullptr) {
    if (required) {
      throw DomainError(ErrorKind::invalid, "missing_field",
                        fmt::format("field '{}' is required", key));
    }
    return fallback;
  }
  if (!v->is_string()) {
    bad_field(key, "a string");
  }
  return std::string(v->as_string());
}

std::chrono::milliseconds JsonFields::duration(std::string_view key,
                                               std::chrono::milliseconds fallback) {
  const json::value* v = take(key);
  if (v == nullptr) {
    return fallback;
  }
  if (!v->is_string()) {
    bad_field(key, "a duration like \"30s\"");
  }
  try {
    return parse_duration(std::string(v->as_string()));
  } catch (const std::invalid_argument& e) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      fmt::format("field '{}': {}", key, e.what()));
  }
}

std::uint32_t JsonFields::percent(std::string_view key, std::uint32_t fallback) {
  const json::value* v = take(key);
  if (v == nullptr) {
    return fallback;
  }
  std::string text;
  if (v->is_string()) {
    text = std::string(v->as_string());
  } else if (v->is_number()) {
    text = json::serialize(*v);
  } else {
    bad_field(key, "a percentage like \"10%\"");
  }
  try {
    return parse_percent(text);
  } catch (const std::invalid_argument& e) {
    throw DomainError(ErrorKind::invalid, "bad_field",
                      fmt::format("field '{}': {}", key, e.what()));
  }
}

std::int64_t JsonFields::integer(std::string_view key, FieldRange range, std::int64_t fallback) {
  const auto [min, max] = range;
  const json::value* v = take(key);
  if (v == nullptr) {
    return fallback;
  }
  // A uint64 beyond int64, a double or a value outside the range is refused, never wrapped.
  if (!v->is_int64() || v->as_int64() < min || v->as_int64() > max) {
    bad_field(key, fmt::format("a whole number from {} to {}", min, max));
  }
  return v->as_int64();
}

bool JsonFields::boolean(std::string_view key, bool fallback) {
  const json::value* v = take(key);
  if (v == nullptr) {
    return fallback;
  }
  if (!v->is_bool()) {
    bad_field(key, "true or false");
  }
  return v->as_bool();
}

std::vector<std::string> JsonFields::strings(std::string_view key, std::string_view what) {
  std::vector<std::string> out;
  const json::value* v = take(key);
  if (v == nullptr) {
    return out;
  }
  const std::string must = fmt::format("an array of {}", what);
  if (!v->is_array()) {
    bad_field(key, must);
  }
  for (const json::value& item : v->as_array()) {
    if (!item.is_string()) {
      bad_field(key, must);
    }
    out.emplace_back(item.as_string());
  }
  return out;
}

std::vector<std::string> JsonFields::one_or_more(std::string_view key, std::string_view what,
                                                 bool required) {
  const json::value* v = take(key);
  const std::string must = fmt::format("a non-empty string or array of {}", what);
  if (v == nullptr) {
    if (required) {
      throw DomainError(ErrorKind::invalid, "missing_field",
                        fmt::format("field '{}' is required", key));
    }
    return {};
  }
  std::vector<std::string> out;
  if (v->is_string()) {
    out.emplace_back(v->as_string());
  } else if (v->is_array()) {
    for (const json::value& item : v->as_array()) {
      if (!item.is_string()) {
        bad_field(key, must);
      }
      out.emplace_back(item.as_string());
    }
  } else {
    bad_field(key, must);
  }
  if (out.empty() || std::ranges::any_of(out, [](const auto& s) { return s.empty(); })) {
    bad_field(key, must);
  }
  return out;
}

void JsonFields::finish() const {
  for (const auto& [key, value] : object_) {
    if (read_.count(key) == 0) {
      throw DomainError(ErrorKind::invalid, "unknown_field",
                        fmt::format("unknown field '{}'", std::string(key)));
    }
  }
}

std::string field_text(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || v->is_null()) {
    return {};
  }
  return v->is_string() ? std::string(v->as_string()) : json::serialize(*v);
}

std::string join_strings(const json::array& items, std::string_view separator) {
  std::string out;
  for (const json::value& item : items) {
    out += out.empty() ? std::string_view() : separator;
    out += item.is_string() ? std::string_view(item.as_string()) : std::string_view();
  }
  return out;
}

std::int64_t field_number(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_number() ? v->to_number<std::int64_t>() : 0;
}

}  // namespace handoff::control
