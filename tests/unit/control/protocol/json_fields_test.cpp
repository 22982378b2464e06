#include "control/protocol/json_fields.hpp"

#include <doctest/doctest.h>

#include "control/base/domain_error.hpp"

using namespace handoff::control;
using namespace std::chrono_literals;

namespace {

// The message of the DomainError `read` throws, or "" when it throws none.
template <typename Read>
std::string refusal(Read read) {
  try {
    read();
  } catch (const DomainError& e) {
    CHECK(e.kind() == ErrorKind::invalid);
    return e.what();
  }
  return {};
}

}  // namespace

TEST_CASE("fields are read with their types, ranges and defaults") {
  JsonFields f(R"({"to":"127.0.0.1:1","keep":2,"drain_timeout":"1500ms","health_check":false,)"
               R"("hosts":["a","b"]})");
  CHECK(f.string("to", true) == "127.0.0.1:1");
  CHECK(f.integer("keep", {0, 10}, 1) == 2);
  CHECK(f.integer("tail", {0, 10}, 7) == 7);
  CHECK(f.duration("drain_timeout", 30s) == 1500ms);
  CHECK_FALSE(f.boolean("health_check", true));
  CHECK(f.strings("hosts", "host names") == std::vector<std::string>{"a", "b"});
  CHECK_NOTHROW(f.finish());
  CHECK_NOTHROW(JsonFields("").finish());
}

TEST_CASE("an unknown, repeated, mistyped or out-of-range field is a 400 naming it") {
  CHECK(refusal([] {
          JsonFields f(R"({"to":"x","drain_timout":"1s"})");
          (void)f.string("to");
          f.finish();
        }).find("drain_timout") != std::string::npos);
  CHECK(refusal([] { JsonFields f(R"({"keep":1,"keep":2})"); }).find("keep") != std::string::npos);
  CHECK(refusal([] {
          JsonFields f(R"({"port":4294975488})");
          (void)f.integer("port", {1, 65535}, 8080);
        }).find("port") != std::string::npos);
  CHECK(refusal([] {
          JsonFields f(R"({"keep":"2"})");
          (void)f.integer("keep", {0, 10}, 1);
        }).find("keep") != std::string::npos);
  CHECK(refusal([] {
          JsonFields f(R"({"hosts":["a",1]})");
          (void)f.strings("hosts", "host names");
        }).find("hosts") != std::string::npos);
  CHECK_FALSE(refusal([] { JsonFields f("[1,2]"); }).empty());
  CHECK_FALSE(refusal([] { JsonFields f("{"); }).empty());
  CHECK(refusal([] { JsonFields f(R"({"a":{"b":1,"b":2}})"); }).find('b') != std::string::npos);
}

TEST_CASE("repeated keys are found at any depth, and only there") {
  CHECK(find_repeated_key(R"({"a":1,"b":{"c":1,"c":2}})") == "c");
  CHECK(find_repeated_key(R"({"a":{"x":1},"b":{"x":1}})").empty());
  CHECK(find_repeated_key(R"([{"k":1},{"k":2}])").empty());
}
