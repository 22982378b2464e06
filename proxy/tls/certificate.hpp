#pragma once

#include <openssl/types.h>
#include <openssl/x509.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace handoff::proxy {

/// Why a certificate or key was refused (unparsable, expired, not yet valid, key mismatch).
class CertificateError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A server certificate with its chain and private key, checked to belong together and to be
/// valid now. Immutable; shared by every handshake that presents it.
class Certificate {
 public:
  /// Parses a PEM chain (leaf first, then intermediates) and a PEM private key. Throws
  /// CertificateError with the reason when either is unparsable, the certificate has expired
  /// or is not valid yet, or the key is not the certificate's.
  /// `check_dates` false skips the validity dates (a saved certificate that expired while
  /// handoff was down is still loaded, and shown as expired).
  static std::shared_ptr<const Certificate> parse(std::string_view chain_pem,
                                                  std::string_view key_pem,
                                                  bool check_dates = true);
  ~Certificate();
  Certificate(const Certificate&) = delete;
  Certificate& operator=(const Certificate&) = delete;

  /// The DNS names the certificate is for (subjectAltName; the subject's CN when it has none),
  /// lowercased; wildcards as `*.example.com`.
  [[nodiscard]] const std::vector<std::string>& names() const { return names_; }
  /// When it expires.
  [[nodiscard]] std::chrono::system_clock::time_point not_after() const { return not_after_; }
  /// When it became valid.
  [[nodiscard]] std::chrono::system_clock::time_point not_before() const { return not_before_; }
  /// The chain and the key as given, for saving.
  [[nodiscard]] const std::string& chain_pem() const { return chain_pem_; }
  /// The private key as given, for saving.
  [[nodiscard]] const std::string& key_pem() const { return key_pem_; }

  /// The leaf certificate (owned here).
  [[nodiscard]] X509* leaf() const { return leaf_; }
  /// The intermediates (owned here; may be empty).
  [[nodiscard]] STACK_OF(X509) * chain() const { return chain_; }
  /// The private key (owned here).
  [[nodiscard]] EVP_PKEY* key() const { return key_; }

 private:
  Certificate() = default;

  X509* leaf_ = nullptr;
  STACK_OF(X509) * chain_ = nullptr;
  EVP_PKEY* key_ = nullptr;
  std::vector<std::string> names_;
  std::chrono::system_clock::time_point not_before_;
  std::chrono::system_clock::time_point not_after_;
  std::string chain_pem_;
  std::string key_pem_;
};

/// The newest error on OpenSSL's queue as text (and the queue cleared), for messages.
std::string openssl_error_text();

}  // namespace handoff::proxy
