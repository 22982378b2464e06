#include "control/protocol/duration.hpp"

#include <doctest/doctest.h>

using namespace handoff::control;
using std::chrono::milliseconds;

TEST_CASE("durations parse with units and reject junk") {
  CHECK(parse_duration("500ms") == milliseconds(500));
  CHECK(parse_duration("30s") == milliseconds(30000));
  CHECK(parse_duration("2") == milliseconds(2000));
  CHECK(parse_duration("1.5s") == milliseconds(1500));
  CHECK(parse_duration("2m") == milliseconds(120000));
  CHECK_THROWS_AS(parse_duration("soon"), std::invalid_argument);
  CHECK_THROWS_AS(parse_duration("5x"), std::invalid_argument);
  CHECK_THROWS_AS(parse_duration("-1s"), std::invalid_argument);
  CHECK(format_duration(milliseconds(850)) == "850ms");
  CHECK(format_duration(milliseconds(2500)) == "2.5s");
}
