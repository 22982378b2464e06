#include "proxy/http/whole_number.hpp"

#include <doctest/doctest.h>

#include <cstdint>

using handoff::proxy::parse_whole_number;

TEST_CASE("a whole number is digits only, within its type") {
  CHECK(parse_whole_number<std::uint16_t>("65535") == 65535);
  CHECK_FALSE(parse_whole_number<std::uint16_t>("65536"));
  CHECK(parse_whole_number<std::uint64_t>("0") == 0U);
  CHECK(parse_whole_number<std::uint64_t>("18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(parse_whole_number<std::uint64_t>("18446744073709551616"));
  for (const char* bad : {"", "+1", "-1", " 1", "1 ", "1x", "0x10", "1.0"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_whole_number<std::int64_t>(bad));
    CHECK_FALSE(parse_whole_number<std::uint32_t>(bad));
  }
}
