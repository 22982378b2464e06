#include "control/protocol/percent.hpp"

#include <doctest/doctest.h>

#include <stdexcept>

using namespace handoff::control;

TEST_CASE("percentages parse into hundredths and reject junk") {
  CHECK(parse_percent("10%") == 1000);
  CHECK(parse_percent("10") == 1000);
  CHECK(parse_percent("0.5%") == 50);
  CHECK(parse_percent("0.05%") == 5);
  CHECK(parse_percent("100%") == 10'000);
  CHECK(parse_percent("0%") == 0);
  for (const char* bad : {"", "%", "101%", "100.5%", "-1%", "1.%", ".5%", "0.123%", "ten%", "10%%",
                          " 10%", "1e1%", "4294967296%"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_percent(bad), std::invalid_argument);
  }
  CHECK(format_percent(1000) == "10%");
  CHECK(format_percent(50) == "0.5%");
  CHECK(format_percent(5) == "0.05%");
}
