#include "proxy/tls/acme_challenges.hpp"

#include <doctest/doctest.h>

#include "control/acme/acme_manager.hpp"

using handoff::proxy::AcmeChallenges;

TEST_CASE("a published HTTP-01 token is answered until it is withdrawn") {
  AcmeChallenges c;
  CHECK_FALSE(c.answer("/.well-known/acme-challenge/tok"));
  c.publish("tok", "tok.thumb");
  CHECK(c.answer("/.well-known/acme-challenge/tok") == "tok.thumb");
  CHECK_FALSE(c.answer("/.well-known/acme-challenge/other"));
  CHECK_FALSE(c.answer("/tok"));
  CHECK_FALSE(c.answer("/.well-known/acme-challenge/tok/more"));
  c.withdraw("tok");
  CHECK_FALSE(c.answer("/.well-known/acme-challenge/tok"));
}

TEST_CASE("an automatic certificate covers each host name once, without prefixes or wildcards") {
  using handoff::control::acme_names;
  CHECK(acme_names({"a.test", "a.test/api", "www.a.test", "*.a.test", "/static"}) ==
        std::vector<std::string>{"a.test", "www.a.test"});
  CHECK(acme_names({}).empty());
}
