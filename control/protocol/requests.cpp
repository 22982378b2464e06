#include "control/protocol/requests.hpp"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <string>
#include <utility>

#include "control/protocol/percent.hpp"

namespace handoff::control {

namespace json = boost::json;

namespace {

// A duration as parse_duration reads it back exactly: in the largest unit that divides it.
std::string wire_duration(std::chrono::milliseconds d) {
  const long long ms = d.count();
  for (const auto& [unit, size] :
       {std::pair{"h", 3'600'000LL}, std::pair{"m", 60'000LL}, std::pair{"s", 1'000LL}}) {
    if (ms != 0 && ms % size == 0) {
      return std::to_string(ms / size) + unit;
    }
  }
  return std::to_string(ms) + "ms";
}

}  // namespace

void FieldWriter::text(std::string_view key, const std::optional<std::string>& v) {
  if (v) {
    out_[key] = *v;
  }
}

void FieldWriter::duration(std::string_view key,
                           const std::optional<std::chrono::milliseconds>& v) {
  if (v) {
    out_[key] = wire_duration(*v);
  }
}

void FieldWriter::integer(std::string_view key, const std::optional<std::int64_t>& v,
                          FieldRange /*range*/) {
  if (v) {
    out_[key] = *v;
  }
}

void FieldWriter::boolean(std::string_view key, const std::optional<bool>& v) {
  if (v) {
    out_[key] = *v;
  }
}

void FieldWriter::percent(std::string_view key, const std::optional<Percent>& v) {
  if (v) {
    out_[key] = format_percent(v->hundredths);
  }
}

void FieldWriter::strings(std::string_view key, const std::vector<std::string>& v,
                          std::string_view /*what*/) {
  if (!v.empty()) {
    out_[key] = json::value_from(v);
  }
}

void FieldWriter::strings(std::string_view key, const std::optional<std::vector<std::string>>& v,
                          std::string_view /*what*/) {
  if (v) {
    out_[key] = json::value_from(*v);
  }
}

void FieldWriter::one_or_more(std::string_view key, const std::vector<std::string>& v,
                              std::string_view /*what*/) {
  if (v.size() == 1) {
    out_[key] = v.front();
  } else if (!v.empty()) {
    out_[key] = json::value_from(v);
  }
}

void FieldReader::text(std::string_view key, std::optional<std::string>& v) {
  if (in_.has(key)) {
    v = in_.string(key);
  }
}

void FieldReader::duration(std::string_view key, std::optional<std::chrono::milliseconds>& v) {
  if (in_.has(key)) {
    v = in_.duration(key, {});
  }
}

void FieldReader::integer(std::string_view key, std::optional<std::int64_t>& v, FieldRange range) {
  if (in_.has(key)) {
    v = in_.integer(key, range, 0);
  }
}

void FieldReader::boolean(std::string_view key, std::optional<bool>& v) {
  if (in_.has(key)) {
    v = in_.boolean(key, false);
  }
}

void FieldReader::percent(std::string_view key, std::optional<Percent>& v) {
  if (in_.has(key)) {
    v = Percent{in_.percent(key, 0)};
  }
}

void FieldReader::strings(std::string_view key, std::vector<std::string>& v,
                          std::string_view what) {
  v = in_.strings(key, what);
}

void FieldReader::strings(std::string_view key, std::optional<std::vector<std::string>>& v,
                          std::string_view what) {
  if (in_.has(key)) {
    v = in_.strings(key, what);
  }
}

void FieldReader::one_or_more(std::string_view key, std::vector<std::string>& v,
                              std::string_view what) {
  v = in_.one_or_more(key, what, false);
}

}  // namespace handoff::control
