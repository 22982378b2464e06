#include "proxy/tls/ticket_keys.hpp"

#include <doctest/doctest.h>

using handoff::proxy::TicketKeys;
using namespace std::chrono_literals;

TEST_CASE("ticket keys rotate: the previous key still decrypts, and asks for a renewal") {
  TicketKeys keys(10min);
  const auto t0 = std::chrono::steady_clock::now();
  const TicketKeys::Key first = keys.encrypting(t0);
  CHECK(keys.encrypting(t0 + 9min).name == first.name);
  auto found = keys.decrypting(first.name.data(), t0 + 9min);
  REQUIRE(found);
  CHECK_FALSE(found->second);  // the current key: no renewal
  const TicketKeys::Key second = keys.encrypting(t0 + 11min);
  CHECK(second.name != first.name);
  CHECK(second.aes != first.aes);
  found = keys.decrypting(first.name.data(), t0 + 12min);
  REQUIRE(found);
  CHECK(found->second);  // an older key: issue a fresh ticket
  CHECK(found->first.hmac == first.hmac);
  keys.encrypting(t0 + 22min);  // a third key: the first is gone
  CHECK_FALSE(keys.decrypting(first.name.data(), t0 + 22min));
  CHECK(keys.decrypting(second.name.data(), t0 + 22min));
}

TEST_CASE("after two idle periods no old key is kept") {
  TicketKeys keys(10min);
  const auto t0 = std::chrono::steady_clock::now();
  const TicketKeys::Key first = keys.encrypting(t0);
  keys.encrypting(t0 + 25min);
  CHECK_FALSE(keys.decrypting(first.name.data(), t0 + 25min));
}
