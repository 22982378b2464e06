#include "proxy/request_ids.hpp"

#include <doctest/doctest.h>

#include <cstdio>
#include <string>

using namespace handoff::proxy;

namespace {

// What the id with count `n` must read, formatted the slow way.
std::string expected(std::uint64_t prefix, std::uint64_t n) {
  char text[33];
  std::snprintf(text, sizeof text, "%016llx%016llx", static_cast<unsigned long long>(prefix),
                static_cast<unsigned long long>(n));
  return text;
}

}  // namespace

TEST_CASE("request ids are the prefix and a count, in hex, across every carry") {
  const std::uint64_t prefix = 0x0123456789abcdefULL;
  RequestIds ids(prefix);
  CHECK(ids.next() == "0123456789abcdef0000000000000001");
  int wrong = 0;
  for (std::uint64_t n = 2; n <= 70000; ++n) {  // past 0xf, 0xff, 0xfff and 0xffff
    const std::string_view id = ids.next();
    if (id != expected(prefix, n) && ++wrong == 1) {
      MESSAGE("id " << n << " is " << id << ", not " << expected(prefix, n));
    }
  }
  CHECK(wrong == 0);
  CHECK(ids.next() == expected(prefix, 70001));
}
