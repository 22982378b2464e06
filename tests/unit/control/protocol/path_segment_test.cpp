#include "control/protocol/path_segment.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "control/protocol/service_name.hpp"

using namespace handoff::control;

TEST_CASE("a path segment is percent-encoded so that nothing in it changes the path") {
  CHECK(percent_encode_segment("web-1_a") == "web-1_a");
  CHECK(percent_encode_segment("../web") == "..%2Fweb");
  CHECK(percent_encode_segment("..") == "%2E%2E");
  CHECK(percent_encode_segment("a b?c#d") == "a%20b%3Fc%23d");
  for (const char* text : {"web", "../web", "..", "a b?c#d", "\xff/x"}) {
    CHECK(percent_decode_segment(percent_encode_segment(text)) == std::string(text));
  }
}

TEST_CASE("a malformed percent-escape is refused") {
  CHECK_FALSE(percent_decode_segment("web%zz").has_value());
  CHECK_FALSE(percent_decode_segment("web%2").has_value());
  CHECK_FALSE(percent_decode_segment("%").has_value());
  CHECK(percent_decode_segment("w%65b") == std::string("web"));
}

TEST_CASE("service names: 1-63 of a-z, 0-9, '-' and '_'") {
  CHECK(is_service_name("web"));
  CHECK(is_service_name("a-b_9"));
  CHECK(is_service_name(std::string(63, 'a')));
  for (const std::string& bad :
       std::vector<std::string>{"", "Web", "a b", "../web", "a/b", "a?b", std::string(64, 'a')}) {
    CHECK_FALSE(is_service_name(bad));
    CHECK(service_name_problem(bad).find("must be 1-63") != std::string::npos);
  }
  CHECK(service_name_problem("web").empty());
}
