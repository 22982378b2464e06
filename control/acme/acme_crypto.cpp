#include "control/acme/acme_crypto.hpp"

#include <fmt/format.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <boost/json.hpp>
#include <stdexcept>

namespace handoff::control {

namespace {

[[noreturn]] void fail(const char* what) {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  const char* reason = ERR_reason_error_string(code);
  throw std::runtime_error(fmt::format("{}: {}", what, reason != nullptr ? reason : "failed"));
}

std::string sha256(std::string_view data) {
  unsigned char digest[32];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &n, EVP_sha256(), nullptr) != 1) {
    fail("SHA-256");
  }
  return {reinterpret_cast<const char*>(digest), n};
}

// A 32-byte big-endian coordinate of the public key.
std::string coordinate(EVP_PKEY* key, const char* which) {
  BIGNUM* bn = nullptr;
  if (EVP_PKEY_get_bn_param(key, which, &bn) != 1) {
    fail("reading the public key");
  }
  unsigned char out[32];
  const int n = BN_bn2binpad(bn, out, sizeof out);
  BN_free(bn);
  if (n != 32) {
    fail("reading the public key");
  }
  return {reinterpret_cast<const char*>(out), 32};
}

}  // namespace

std::string base64url(std::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') {
    out.pop_back();
  }
  for (char& c : out) {
    c = c == '+' ? '-' : c == '/' ? '_' : c;
  }
  return out;
}

void EcKey::Free::operator()(EVP_PKEY* k) const {
  EVP_PKEY_free(k);
}

EcKey EcKey::generate() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  if (key == nullptr) {
    fail("generating a P-256 key");
  }
  return EcKey(key);
}

EcKey EcKey::from_pem(std::string_view pem) {
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (key == nullptr) {
    fail("reading the key");
  }
  EcKey out(key);
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_EC || EVP_PKEY_get_bits(key) != 256) {
    throw std::runtime_error("the key is not an ECDSA P-256 key");
  }
  return out;
}

std::string EcKey::private_pem() const {
  BIO* bio = BIO_new(BIO_s_mem());
  if (PEM_write_bio_PrivateKey(bio, key_.get(), nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    BIO_free(bio);
    fail("writing the key");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return pem;
}

std::string EcKey::jwk() const {
  return fmt::format(R"({{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}})",
                     base64url(coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_X)),
                     base64url(coordinate(key_.get(), OSSL_PKEY_PARAM_EC_PUB_Y)));
}

std::string EcKey::thumbprint() const {
  return base64url(sha256(jwk()));
}

std::string EcKey::sign(std::string_view data) const {
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  std::size_t der_size = 0;
  if (EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key_.get()) != 1 ||
      EVP_DigestSign(ctx, nullptr, &der_size, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) != 1) {
    EVP_MD_CTX_free(ctx);
    fail("signing");
  }
  std::string der(der_size, '\0');
  auto* der_bytes = reinterpret_cast<unsigned char*>(der.data());
  const bool signed_ok =
      EVP_DigestSign(ctx, der_bytes, &der_size, reinterpret_cast<const unsigned char*>(data.data()),
                     data.size()) == 1;
  EVP_MD_CTX_free(ctx);
  if (!signed_ok) {
    fail("signing");
  }
  // OpenSSL gives a DER ECDSA-Sig-Value; JWS wants r || s, each padded to 32 bytes.
  const unsigned char* p = der_bytes;
  ECDSA_SIG* sig = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(der_size));
  if (sig == nullptr) {
    fail("reading the signature");
  }
  unsigned char raw[64];
  const BIGNUM* r = nullptr;
  const BIGNUM* s = nullptr;
  ECDSA_SIG_get0(sig, &r, &s);
  BN_bn2binpad(r, raw, 32);
  BN_bn2binpad(s, raw + 32, 32);
  ECDSA_SIG_free(sig);
  return {reinterpret_cast<const char*>(raw), sizeof raw};
}

std::string sign_jws(const EcKey& key, std::string_view kid, std::string_view nonce,
                     std::string_view url, std::string_view payload) {
  boost::json::object header{{"alg", "ES256"}, {"nonce", nonce}, {"url", url}};
  if (kid.empty()) {
    header["jwk"] = boost::json::parse(key.jwk());
  } else {
    header["kid"] = kid;
  }
  const std::string protected_b64 = base64url(boost::json::serialize(header));
  const std::string payload_b64 = base64url(payload);
  const std::string signature = key.sign(protected_b64 + "." + payload_b64);
  return boost::json::serialize(boost::json::object{
      {"protected", protected_b64}, {"payload", payload_b64}, {"signature", base64url(signature)}});
}

std::string dns_alt_names(const std::vector<std::string>& names) {
  std::string san;
  for (const std::string& n : names) {
    if (!san.empty()) {
      san += ',';
    }
    san += "DNS:";
    san += n;
  }
  return san;
}

std::string make_csr(const EcKey& key, const std::vector<std::string>& names) {
  if (names.empty()) {
    throw std::invalid_argument("a certificate needs at least one name");
  }
  X509_REQ* req = X509_REQ_new();
  X509_REQ_set_version(req, 0);
  X509_NAME_add_entry_by_txt(X509_REQ_get_subject_name(req), "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names.front().c_str()), -1, -1,
                             0);
  const std::string san = dns_alt_names(names);
  STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, san.c_str());
  sk_X509_EXTENSION_push(exts, ext);
  const bool ok = ext != nullptr && X509_REQ_add_extensions(req, exts) == 1 &&
                  X509_REQ_set_pubkey(req, key.native()) == 1 &&
                  X509_REQ_sign(req, key.native(), EVP_sha256()) > 0;
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  unsigned char* der = nullptr;
  const int n = ok ? i2d_X509_REQ(req, &der) : -1;
  X509_REQ_free(req);
  if (n <= 0) {
    fail("making the certificate request");
  }
  std::string out = base64url({reinterpret_cast<const char*>(der), static_cast<std::size_t>(n)});
  OPENSSL_free(der);
  return out;
}

}  // namespace handoff::control
