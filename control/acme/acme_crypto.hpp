#pragma once

#include <openssl/types.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::control {

/// base64url without padding (RFC 4648 §5), as JWS and ACME use it.
std::string base64url(std::string_view bytes);

/// An ECDSA P-256 key: an ACME account key, or a certificate's key.
class EcKey {
 public:
  /// A new random key.
  static EcKey generate();
  /// A key from PEM; throws std::runtime_error when it is not a P-256 key.
  static EcKey from_pem(std::string_view pem);

  /// The private key as PEM (PKCS#8).
  [[nodiscard]] std::string private_pem() const;
  /// The public key as a JWK (RFC 7517), members in lexicographic order, no whitespace.
  [[nodiscard]] std::string jwk() const;
  /// The JWK thumbprint (RFC 7638), base64url.
  [[nodiscard]] std::string thumbprint() const;
  /// An ES256 signature (RFC 7518 §3.4: r and s, 32 bytes each) of `data`.
  [[nodiscard]] std::string sign(std::string_view data) const;
  /// The OpenSSL key.
  [[nodiscard]] EVP_PKEY* native() const { return key_.get(); }

 private:
  struct Free {
    void operator()(EVP_PKEY* k) const;
  };
  explicit EcKey(EVP_PKEY* key) : key_(key) {}
  std::unique_ptr<EVP_PKEY, Free> key_;
};

/// A JWS in flattened JSON serialization (RFC 7515 §7.2.2) as ACME wants it (RFC 8555 §6.2):
/// signed with ES256; `kid` (the account URL) when given, else the public key as `jwk`. An empty
/// `payload` is a POST-as-GET.
std::string sign_jws(const EcKey& key, std::string_view kid, std::string_view nonce,
                     std::string_view url, std::string_view payload);

/// A subjectAltName value listing `names` as DNS names ("DNS:a.test,DNS:b.test"), for
/// OpenSSL's X509V3_EXT_conf_nid.
std::string dns_alt_names(const std::vector<std::string>& names);

/// A certificate signing request for `names` (the first is also the subject's CN), signed by
/// `key`, DER-encoded and base64url'd for an ACME finalize (RFC 8555 §7.4).
std::string make_csr(const EcKey& key, const std::vector<std::string>& names);

}  // namespace handoff::control
