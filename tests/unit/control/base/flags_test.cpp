#include "control/base/flags.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

using namespace handoff::control;

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
