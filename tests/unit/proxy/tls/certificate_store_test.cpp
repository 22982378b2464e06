#include "proxy/tls/certificate_store.hpp"

#include <doctest/doctest.h>

#include "tests/support/test_certificates.hpp"

using namespace handoff;
using proxy::Certificate;
using proxy::CertificateStore;
using test::parsed_certificate;

TEST_CASE("SNI finds a certificate by exact name, then one wildcard label, then the default") {
  const auto shop = parsed_certificate({"shop.test"});
  const auto api = parsed_certificate({"*.api.test"});
  const auto fallback = parsed_certificate({"default.test"});
  const CertificateStore store({{shop, {}}, {api, {}}}, fallback);
  CHECK(store.find("shop.test") == shop.get());
  CHECK(store.find("SHOP.Test") == shop.get());
  CHECK(store.find("v1.api.test") == api.get());
  CHECK(store.find("api.test") == fallback.get());       // a wildcard needs a label
  CHECK(store.find("a.v1.api.test") == fallback.get());  // and only one
  CHECK(store.find("") == fallback.get());               // no SNI at all
  CHECK(store.find(std::string(300, 'a')) == fallback.get());
  const CertificateStore no_default({{shop, {}}}, nullptr);
  CHECK(no_default.find("other.test") == nullptr);
  CHECK(CertificateStore().empty());
}

TEST_CASE("a service's hosts name its certificate first, ports and path prefixes are ignored") {
  const auto web = parsed_certificate({"web.test", "shared.test"});
  const auto other = parsed_certificate({"shared.test"});
  // `other` serves shared.test as a host of its service: it wins over the name in `web`.
  const CertificateStore store(
      {{web, {"web.test/app", "WWW.web.test:8443"}}, {other, {"shared.test", "*.wild.test"}}},
      nullptr);
  CHECK(store.find("shared.test") == other.get());
  CHECK(store.find("www.web.test") == web.get());
  CHECK(store.find("web.test") == web.get());
  CHECK(store.find("x.wild.test") == other.get());
}
