#include "proxy/tls/certificate.hpp"

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace handoff::proxy {

namespace {

using SystemClock = std::chrono::system_clock;

struct BioDeleter {
  void operator()(BIO* b) const { BIO_free(b); }
};
using BioPtr = std::unique_ptr<BIO, BioDeleter>;

BioPtr memory_bio(std::string_view text) {
  return BioPtr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

SystemClock::time_point to_time_point(const ASN1_TIME* t) {
  std::tm tm{};
  if (t == nullptr || ASN1_TIME_to_tm(t, &tm) != 1) {
    throw CertificateError("the certificate's validity dates cannot be read");
  }
  return SystemClock::from_time_t(timegm(&tm));
}

std::string lowercase(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// DNS names from subjectAltName, or the subject's CN when there is no DNS name there (as
// browsers no longer accept, but curl and older clients still do).
std::vector<std::string> dns_names(X509* cert) {
  std::vector<std::string> names;
  auto* sans =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr));
  for (int i = 0; sans != nullptr && i < sk_GENERAL_NAME_num(sans); ++i) {
    const GENERAL_NAME* name = sk_GENERAL_NAME_value(sans, i);
    if (name->type == GEN_DNS) {
      const ASN1_STRING* s = name->d.dNSName;
      names.push_back(lowercase({reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                 static_cast<std::size_t>(ASN1_STRING_length(s))}));
    }
  }
  GENERAL_NAMES_free(sans);
  if (names.empty()) {
    char cn[256];
    const int n =
        X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof cn);
    if (n > 0) {
      names.push_back(lowercase({cn, static_cast<std::size_t>(n)}));
    }
  }
  return names;
}

}  // namespace

std::string openssl_error_text() {
  const unsigned long code = ERR_get_error();
  ERR_clear_error();
  if (code == 0) {
    return "unknown error";
  }
  const char* reason = ERR_reason_error_string(code);
  if (reason == nullptr) {
    return fmt::format("OpenSSL error {:#x}", code);
  }
  if (std::string_view(reason) == "no start line") {
    return "no PEM block in it (no '-----BEGIN ...-----' line)";
  }
  return reason;
}

Certificate::~Certificate() {
  X509_free(leaf_);
  sk_X509_pop_free(chain_, X509_free);
  EVP_PKEY_free(key_);
}

std::shared_ptr<const Certificate> Certificate::parse(std::string_view chain_pem,
                                                      std::string_view key_pem, bool check_dates) {
  ERR_clear_error();
  std::shared_ptr<Certificate> c(new Certificate());
  c->chain_pem_ = chain_pem;
  c->key_pem_ = key_pem;
  BioPtr certs = memory_bio(chain_pem);
  c->leaf_ = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr);
  if (c->leaf_ == nullptr) {
    throw CertificateError(
        fmt::format("the certificate cannot be parsed as PEM: {}", openssl_error_text()));
  }
  c->chain_ = sk_X509_new_null();
  while (X509* extra = PEM_read_bio_X509(certs.get(), nullptr, nullptr, nullptr)) {
    sk_X509_push(c->chain_, extra);
  }
  ERR_clear_error();  // the end of the PEM stream shows as an error
  BioPtr key = memory_bio(key_pem);
  c->key_ = PEM_read_bio_PrivateKey(key.get(), nullptr, nullptr, nullptr);
  if (c->key_ == nullptr) {
    throw CertificateError(
        fmt::format("the private key cannot be parsed as PEM: {}", openssl_error_text()));
  }
  if (X509_check_private_key(c->leaf_, c->key_) != 1) {
    ERR_clear_error();
    throw CertificateError("the private key does not match the certificate");
  }
  c->not_before_ = to_time_point(X509_get0_notBefore(c->leaf_));
  c->not_after_ = to_time_point(X509_get0_notAfter(c->leaf_));
  const auto now = SystemClock::now();
  c->names_ = dns_names(c->leaf_);
  if (!check_dates) {
    return c;
  }
  if (c->not_after_ <= now) {
    throw CertificateError(fmt::format("the certificate expired on {:%Y-%m-%d %H:%M:%S} UTC",
                                       fmt::gmtime(SystemClock::to_time_t(c->not_after_))));
  }
  if (c->not_before_ > now) {
    throw CertificateError(
        fmt::format("the certificate is not valid before {:%Y-%m-%d %H:%M:%S} UTC",
                    fmt::gmtime(SystemClock::to_time_t(c->not_before_))));
  }
  return c;
}

}  // namespace handoff::proxy
