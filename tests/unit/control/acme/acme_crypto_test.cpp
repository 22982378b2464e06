#include "control/acme/acme_crypto.hpp"

#include <doctest/doctest.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/json.hpp>
#include <string>

using namespace handoff::control;

namespace {

std::string unbase64url(std::string s) {
  for (char& c : s) {
    c = c == '-' ? '+' : c == '_' ? '/' : c;
  }
  while (s.size() % 4 != 0) {
    s += '=';
  }
  std::string out(s.size(), '\0');
  const int n =
      EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                      reinterpret_cast<const unsigned char*>(s.data()), static_cast<int>(s.size()));
  out.resize(static_cast<std::size_t>(n) - (s.size() - s.find_last_not_of('=') - 1));
  return out;
}

// Verifies an ES256 signature (r || s) of `data` with OpenSSL, as an ACME server would.
bool verifies(const EcKey& key, const std::string& data, const std::string& raw) {
  ECDSA_SIG* sig = ECDSA_SIG_new();
  ECDSA_SIG_set0(sig, BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()), 32, nullptr),
                 BN_bin2bn(reinterpret_cast<const unsigned char*>(raw.data()) + 32, 32, nullptr));
  unsigned char* der = nullptr;
  const int der_len = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  const bool ok =
      EVP_DigestVerifyInit(ctx, nullptr, EVP_sha256(), nullptr, key.native()) == 1 &&
      EVP_DigestVerify(ctx, der, static_cast<std::size_t>(der_len),
                       reinterpret_cast<const unsigned char*>(data.data()), data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  OPENSSL_free(der);
  return ok;
}

}  // namespace

TEST_CASE("base64url has no padding and uses - and _") {
  CHECK(base64url("") == "");
  CHECK(base64url("f") == "Zg");
  CHECK(base64url("fo") == "Zm8");
  CHECK(base64url("foo") == "Zm9v");
  CHECK(base64url(std::string("\xfb\xff", 2)) == "-_8");
}

TEST_CASE("a JWS is signed with ES256 over its protected header and payload") {
  const EcKey key = EcKey::generate();
  const std::string jws = sign_jws(key, "", "nonce-1", "https://ca.test/new-acct", R"({"a":1})");
  const boost::json::object o = boost::json::parse(jws).as_object();
  const std::string protected_b64(o.at("protected").as_string());
  const std::string payload_b64(o.at("payload").as_string());
  const boost::json::object header = boost::json::parse(unbase64url(protected_b64)).as_object();
  CHECK(header.at("alg") == "ES256");
  CHECK(header.at("nonce") == "nonce-1");
  CHECK(header.at("url") == "https://ca.test/new-acct");
  CHECK(header.at("jwk").at("crv") == "P-256");
  CHECK_FALSE(header.contains("kid"));
  CHECK(unbase64url(payload_b64) == R"({"a":1})");
  const std::string signature = unbase64url(std::string(o.at("signature").as_string()));
  REQUIRE(signature.size() == 64);
  CHECK(verifies(key, protected_b64 + "." + payload_b64, signature));
  // With an account URL the key is named by `kid`; an empty payload is a POST-as-GET.
  const boost::json::object by_kid =
      boost::json::parse(sign_jws(key, "https://ca.test/acct/1", "n", "https://ca.test/x", ""))
          .as_object();
  const auto kid_header =
      boost::json::parse(unbase64url(std::string(by_kid.at("protected").as_string()))).as_object();
  CHECK(kid_header.at("kid") == "https://ca.test/acct/1");
  CHECK_FALSE(kid_header.contains("jwk"));
  CHECK(by_kid.at("payload") == "");
}

TEST_CASE("the JWK thumbprint hashes the members in order, and a key survives PEM") {
  const EcKey key = EcKey::generate();
  CHECK(key.jwk().rfind(R"({"crv":"P-256","kty":"EC","x":")", 0) == 0);
  CHECK(key.thumbprint().size() == 43);  // 32 bytes, base64url
  const EcKey again = EcKey::from_pem(key.private_pem());
  CHECK(again.thumbprint() == key.thumbprint());
  CHECK(EcKey::generate().thumbprint() != key.thumbprint());
  CHECK_THROWS(EcKey::from_pem("not a key"));
}

TEST_CASE("a CSR names every host and is signed by the certificate's key") {
  const EcKey key = EcKey::generate();
  const std::string der = unbase64url(make_csr(key, {"a.test", "www.a.test"}));
  const auto* p = reinterpret_cast<const unsigned char*>(der.data());
  X509_REQ* req = d2i_X509_REQ(nullptr, &p, static_cast<long>(der.size()));
  REQUIRE(req != nullptr);
  CHECK(X509_REQ_verify(req, key.native()) == 1);
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr));
  REQUIRE(sans != nullptr);
  CHECK(sk_GENERAL_NAME_num(sans) == 2);
  GENERAL_NAMES_free(sans);
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  X509_REQ_free(req);
  CHECK_THROWS(make_csr(key, {}));
}
