#include "proxy/tls/certificate.hpp"

#include <doctest/doctest.h>

#include <string>

#include "tests/support/test_certificates.hpp"

using namespace handoff;
using proxy::Certificate;
using proxy::CertificateError;
using test::make_certificate;

namespace {

// The reason a certificate and key are refused, or "" when they are accepted.
std::string refusal(const std::string& chain, const std::string& key) {
  try {
    Certificate::parse(chain, key);
    return "";
  } catch (const CertificateError& e) {
    return e.what();
  }
}

}  // namespace

TEST_CASE("a certificate is read with its names, lowercased, wildcards kept") {
  const auto made = make_certificate({{"Shop.Example.com", "*.api.example.com"}});
  const auto cert = Certificate::parse(made.chain_pem, made.key_pem);
  CHECK(cert->names() == std::vector<std::string>{"shop.example.com", "*.api.example.com"});
  CHECK(cert->not_after() > std::chrono::system_clock::now());
  CHECK(cert->chain_pem() == made.chain_pem);
  CHECK(cert->key_pem() == made.key_pem);
}

TEST_CASE("intermediates after the leaf become the chain") {
  const auto leaf = make_certificate({{"a.test"}});
  const auto intermediate = make_certificate({{"ca.test"}});
  const auto cert = Certificate::parse(leaf.chain_pem + intermediate.chain_pem, leaf.key_pem);
  CHECK(sk_X509_num(cert->chain()) == 1);
}

TEST_CASE("a bad certificate or key is refused with the reason") {
  const auto good = make_certificate({{"a.test"}});
  const auto other = make_certificate({{"b.test"}});
  CHECK(refusal(good.chain_pem, good.key_pem).empty());
  CHECK(refusal(good.chain_pem, other.key_pem) == "the private key does not match the certificate");
  CHECK(refusal("not a certificate", good.key_pem).find("cannot be parsed") != std::string::npos);
  CHECK(refusal(good.chain_pem, "not a key").find("private key cannot be parsed") !=
        std::string::npos);
  // The first byte of the body cut off: PEM framing intact, DER broken.
  std::string broken = good.chain_pem;
  broken.erase(broken.find('\n') + 1, 8);
  CHECK(refusal(broken, good.key_pem).find("cannot be parsed") != std::string::npos);
}

TEST_CASE("an expired certificate, or one not valid yet, is refused unless dates are not checked") {
  const auto expired =
      make_certificate({{"old.test"}, std::chrono::hours(-48), std::chrono::hours(-24)});
  CHECK(refusal(expired.chain_pem, expired.key_pem).find("expired on") != std::string::npos);
  const auto early =
      make_certificate({{"new.test"}, std::chrono::hours(24), std::chrono::hours(48)});
  CHECK(refusal(early.chain_pem, early.key_pem).find("not valid before") != std::string::npos);
  // A saved certificate that expired while handoff was down still loads (see ServiceRegistry).
  const auto loaded = Certificate::parse(expired.chain_pem, expired.key_pem, false);
  CHECK(loaded->not_after() < std::chrono::system_clock::now());
}
