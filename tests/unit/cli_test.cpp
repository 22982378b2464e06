#include <doctest/doctest.h>

#include "control/duration.hpp"
#include "control/flags.hpp"

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

TEST_CASE("flags parse in both forms and unknown flags are errors") {
  std::string listen;
  bool quiet = false;
  std::vector<Flag> flags = {{"listen", "ADDR", "h", [&](std::string_view v) { listen = v; }},
                             {"quiet", "", "h", [&](std::string_view) { quiet = true; }}};
  auto words = parse_flags({"x", "--listen", "a:1", "--quiet", "y"}, flags);
  CHECK(listen == "a:1");
  CHECK(quiet);
  CHECK(words.size() == 2);
  parse_flags({"--listen=b:2"}, flags);
  CHECK(listen == "b:2");
  CHECK_THROWS_AS(parse_flags({"--nope"}, flags), std::invalid_argument);
  CHECK_THROWS_AS(parse_flags({"--listen"}, flags), std::invalid_argument);
  CHECK_THROWS_AS(parse_flags({"--quiet=1"}, flags), std::invalid_argument);
}
