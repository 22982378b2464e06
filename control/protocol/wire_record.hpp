#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::control {

// A wire record is a struct whose static `fields(self, f)` names each field once (`f("name",
// self.member)`); both directions are made from that list: `to_wire` writes the fields that are
// set, `from_wire` reads the ones present. A field the reader does not know is passed over (a
// newer writer may say more); a known field of another type is a WireError naming it. Members
// are std::optional of a string, a whole number, a number, a list of strings or another record
// (a required string is a plain std::string).

/// A progress event or result that does not have the shape its fields say.
class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Writes the fields that are set.
class WireWriter {
 public:
  explicit WireWriter(boost::json::object& out) : out_(out) {}
  void operator()(std::string_view key, const std::string& v) { out_[key] = v; }
  template <typename T>
  void operator()(std::string_view key, const std::optional<T>& v) {
    if (v) {
      out_[key] = value_of(*v);
    }
  }

 private:
  static boost::json::value value_of(const std::string& v) { return boost::json::value(v); }
  static boost::json::value value_of(std::int64_t v) { return boost::json::value(v); }
  static boost::json::value value_of(double v) { return boost::json::value(v); }
  static boost::json::value value_of(const std::vector<std::string>& v);
  template <typename Record>
  static boost::json::value value_of(const Record& r) {
    boost::json::object nested;
    WireWriter w(nested);
    Record::fields(r, w);
    return nested;
  }
  boost::json::object& out_;
};

/// Reads the fields that are present; throws WireError for one of another type.
class WireReader {
 public:
  explicit WireReader(const boost::json::object& in) : in_(in) {}
  void operator()(std::string_view key, std::string& v);
  template <typename T>
  void operator()(std::string_view key, std::optional<T>& v) {
    if (const boost::json::value* p = in_.if_contains(key); p != nullptr && !p->is_null()) {
      v.emplace();
      read(key, *p, *v);
    }
  }

 private:
  static void read(std::string_view key, const boost::json::value& in, std::string& v);
  static void read(std::string_view key, const boost::json::value& in, std::int64_t& v);
  static void read(std::string_view key, const boost::json::value& in, double& v);
  static void read(std::string_view key, const boost::json::value& in, std::vector<std::string>& v);
  template <typename Record>
  static void read(std::string_view key, const boost::json::value& in, Record& r) {
    if (!in.is_object()) {
      throw WireError("field '" + std::string(key) + "' is not an object");
    }
    WireReader nested(in.as_object());
    Record::fields(r, nested);
  }
  const boost::json::object& in_;
};

/// The record as a JSON object of the fields that are set.
template <typename Record>
boost::json::object to_wire(const Record& r) {
  boost::json::object out;
  WireWriter w(out);
  Record::fields(r, w);
  return out;
}

/// The record read from a JSON object; throws WireError.
template <typename Record>
Record from_wire(const boost::json::object& in) {
  Record r;
  WireReader reader(in);
  Record::fields(r, reader);
  return r;
}

}  // namespace handoff::control
