#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::containers {

// Small readers for the Docker Engine API's JSON answers, which leave out what is empty.

/// A path segment or query value, percent-encoded.
std::string url_encode(const std::string& s);
/// A string field ("" when absent or not a string).
std::string string_or_empty(const boost::json::object& o, std::string_view key);
/// A whole-number field (0 when absent or not a number).
std::int64_t number_or_zero(const boost::json::object& o, std::string_view key);
/// An object field (an empty one when absent or not an object).
const boost::json::object& object_or_empty(const boost::json::object& o, std::string_view key);
/// An object of strings, such as Labels (empty when absent).
std::map<std::string, std::string> string_map(const boost::json::value* v);
/// Labels as the API takes them.
boost::json::object string_object(const std::map<std::string, std::string>& strings);
/// A list of strings (such as Env) as the API takes it.
boost::json::array string_array(const std::vector<std::string>& strings);

}  // namespace handoff::containers
