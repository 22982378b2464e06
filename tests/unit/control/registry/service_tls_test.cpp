#include "control/registry/service_tls.hpp"

#include <doctest/doctest.h>

#include <boost/json.hpp>

#include "control/base/domain_error.hpp"
#include "tests/support/domain_refusal.hpp"
#include "tests/support/test_certificates.hpp"

using namespace handoff;
using control::CertificateSource;
using control::TlsChange;

namespace {

// The request body with a certificate and key as JSON strings, plus `more` fields.
std::string body_with(const test::TestCertificate& c, const std::string& more = "") {
  boost::json::object o{{"tls_cert", c.chain_pem}, {"tls_key", c.key_pem}};
  std::string text = boost::json::serialize(o);
  if (!more.empty()) {
    text.insert(text.size() - 1, "," + more);
  }
  return text;
}

// The error code of reading `body`, or "" when it is accepted.
std::string code_of(const std::string& body) {
  try {
    TlsChange::from(control::read_request<control::TlsRequest>(body));
    return "";
  } catch (const control::DomainError& e) {
    return e.code();
  }
}

}  // namespace

TEST_CASE("HTTPS fields are read into a change, what is absent stays as it is") {
  const auto made = test::make_certificate({{"a.test"}});
  const TlsChange change = TlsChange::from(control::read_request<control::TlsRequest>(
      body_with(made, R"("redirect_https":true,"hsts":600)")));
  CHECK(change.source == CertificateSource::given);
  REQUIRE(change.certificate);
  CHECK(change.certificate->names() == std::vector<std::string>{"a.test"});
  const control::ServiceTls applied = change.applied_to({});
  CHECK(applied.redirect_https);
  CHECK(applied.hsts_seconds == 600);
  CHECK_FALSE(change.changes(applied));
  const auto tls = [](std::string_view body) {
    return TlsChange::from(control::read_request<control::TlsRequest>(body));
  };
  const control::ServiceTls next = tls(R"({"hsts":0})").applied_to(applied);
  CHECK(next.certificate == applied.certificate);
  CHECK(next.redirect_https);
  CHECK(next.hsts_seconds == 0);
  const control::ServiceTls to_acme = tls(R"({"tls":"acme"})").applied_to(applied);
  CHECK(to_acme.source == CertificateSource::acme);
  CHECK(to_acme.certificate == applied.certificate);  // kept until one is issued
  CHECK_FALSE(tls(R"({"tls":"off"})").applied_to(applied).certificate);
}

TEST_CASE("bad HTTPS fields are refused with a code that says why") {
  const auto made = test::make_certificate({{"a.test"}});
  const auto other = test::make_certificate({{"b.test"}});
  CHECK(code_of(body_with({made.chain_pem, other.key_pem})) == "bad_certificate");
  const auto expired =
      test::make_certificate({{"a.test"}, std::chrono::hours(-48), std::chrono::hours(-1)});
  CHECK(code_of(body_with(expired)) == "bad_certificate");
  CHECK(code_of(R"({"tls_cert":"x"})") == "missing_field");
  CHECK(code_of(R"({"tls":"letsencrypt"})") == "bad_field");
  CHECK(code_of(body_with(made, R"("tls":"acme")")) == "bad_field");
  CHECK(code_of(R"({"hsts":-1})") == "bad_field");
  CHECK(code_of(R"({"redirect_https":"yes"})") == "bad_field");
}

TEST_CASE("after a restart, a certificate ACME issued shows as valid until the manager acts") {
  control::ServiceTls tls;
  tls.source = CertificateSource::acme;
  CHECK(control::tls_status(tls).at("acme").at("state") == "pending");  // nothing issued yet
  tls.certificate = test::parsed_certificate({"web.test"});
  tls.issued_by_acme = true;
  CHECK(control::tls_status(tls).at("acme").at("state") == "valid");
  tls.acme.state = "issuing";  // the manager's word wins
  CHECK(control::tls_status(tls).at("acme").at("state") == "issuing");
}

TEST_CASE("the hosts a certificate does not cover are named, wildcards one label deep") {
  const auto cert = test::parsed_certificate({"example.com", "*.shop.test"});
  CHECK(control::uncovered_hosts(*cert, {"example.com", "a.shop.test", "example.com/api", "/api"})
            .empty());
  CHECK(control::uncovered_hosts(*cert, {"www.example.com", "a.b.shop.test", "shop.test",
                                         "*.example.com", "other.test/x"}) ==
        std::vector<std::string>{"www.example.com", "a.b.shop.test", "shop.test", "*.example.com",
                                 "other.test"});
  const auto wildcard = test::parsed_certificate({"*.example.com"});
  CHECK(control::uncovered_hosts(*wildcard, {"*.example.com", "a.example.com"}).empty());
}
