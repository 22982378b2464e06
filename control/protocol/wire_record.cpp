#include "control/protocol/wire_record.hpp"

#include <boost/json/array.hpp>

namespace handoff::control {

namespace json = boost::json;

namespace {

[[noreturn]] void wrong_type(std::string_view key, std::string_view what) {
  throw WireError("field '" + std::string(key) + "' is not " + std::string(what));
}

}  // namespace

json::value WireWriter::value_of(const std::vector<std::string>& v) {
  json::array out;
  for (const std::string& s : v) {
    out.emplace_back(s);
  }
  return out;
}

void WireReader::operator()(std::string_view key, std::string& v) {
  const json::value* p = in_.if_contains(key);
  if (p == nullptr) {
    throw WireError("field '" + std::string(key) + "' is missing");
  }
  read(key, *p, v);
}

void WireReader::read(std::string_view key, const json::value& in, std::string& v) {
  if (!in.is_string()) {
    wrong_type(key, "a string");
  }
  v = in.as_string();
}

void WireReader::read(std::string_view key, const json::value& in, std::int64_t& v) {
  if (in.is_int64()) {
    v = in.as_int64();
  } else if (in.is_uint64() && in.as_uint64() <= INT64_MAX) {
    v = static_cast<std::int64_t>(in.as_uint64());
  } else {
    wrong_type(key, "a whole number");
  }
}

void WireReader::read(std::string_view key, const json::value& in, double& v) {
  if (!in.is_number()) {
    wrong_type(key, "a number");
  }
  v = in.to_number<double>();
}

void WireReader::read(std::string_view key, const json::value& in, std::vector<std::string>& v) {
  if (!in.is_array()) {
    wrong_type(key, "an array of strings");
  }
  for (const json::value& item : in.as_array()) {
    if (!item.is_string()) {
      wrong_type(key, "an array of strings");
    }
    v.emplace_back(item.as_string());
  }
}

}  // namespace handoff::control
