#include "containers/api_fields.hpp"

#include <curl/curl.h>

#include <memory>

#include "containers/engine.hpp"

namespace handoff::containers {

namespace json = boost::json;

std::string url_encode(const std::string& s) {
  std::unique_ptr<char, decltype(&curl_free)> escaped(
      curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size())), curl_free);
  if (!escaped) {
    throw EngineError(0, "cannot encode a URL part");
  }
  return escaped.get();
}

std::string string_or_empty(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::int64_t number_or_zero(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) {
    return 0;
  }
  if (v->is_int64()) {
    return v->as_int64();
  }
  return v->is_uint64() ? static_cast<std::int64_t>(v->as_uint64()) : 0;
}

const json::object& object_or_empty(const json::object& o, std::string_view key) {
  static const json::object empty;
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_object() ? v->as_object() : empty;
}

std::map<std::string, std::string> string_map(const json::value* v) {
  std::map<std::string, std::string> out;
  if (v != nullptr && v->is_object()) {
    for (const auto& [k, val] : v->as_object()) {
      if (val.is_string()) {
        out.emplace(std::string(k), std::string(val.as_string()));
      }
    }
  }
  return out;
}

json::object string_object(const std::map<std::string, std::string>& strings) {
  json::object out;
  for (const auto& [k, v] : strings) {
    out[k] = v;
  }
  return out;
}

json::array string_array(const std::vector<std::string>& strings) {
  json::array out;
  for (const std::string& s : strings) {
    out.emplace_back(s);
  }
  return out;
}

}  // namespace handoff::containers
