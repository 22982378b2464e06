#include "tests/support/test_certificates.hpp"

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <atomic>
#include <functional>
#include <memory>
#include <stdexcept>

#include "control/acme/acme_crypto.hpp"

namespace handoff::test {

namespace {

std::string to_pem(const std::function<int(BIO*)>& write) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (write(bio) != 1) {
    BIO_free(bio);
    throw std::runtime_error("cannot write PEM");
  }
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  return out;
}

EVP_PKEY* load_or_make_key(const std::string& pem) {
  if (pem.empty()) {
    return EVP_EC_gen("P-256");
  }
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  EVP_PKEY* key = PEM_read_bio_PrivateKey(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  return key;
}

void add_names(X509* cert, const std::vector<std::string>& names) {
  const std::string san = control::dns_alt_names(names);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name, san.c_str());
  X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
}

}  // namespace

TestCertificate make_certificate(const CertificateSpec& spec) {
  static std::atomic<long> serial{1};
  EVP_PKEY* key = load_or_make_key(spec.key_pem);
  X509* cert = X509_new();
  if (key == nullptr || cert == nullptr) {
    throw std::runtime_error("cannot make a test certificate");
  }
  X509_set_version(cert, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert), serial++);
  X509_gmtime_adj(X509_getm_notBefore(cert),
                  std::chrono::duration_cast<std::chrono::seconds>(spec.valid_from).count());
  X509_gmtime_adj(X509_getm_notAfter(cert),
                  std::chrono::duration_cast<std::chrono::seconds>(spec.valid_until).count());
  X509_NAME* subject = X509_get_subject_name(cert);
  const std::string cn = spec.names.empty() ? "handoff test" : spec.names.front();
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert, subject);
  X509_set_pubkey(cert, key);
  if (!spec.names.empty()) {
    add_names(cert, spec.names);
  }
  X509_sign(cert, key, EVP_sha256());
  TestCertificate out{
      to_pem([cert](BIO* b) { return PEM_write_bio_X509(b, cert); }), to_pem([key](BIO* b) {
        return PEM_write_bio_PrivateKey(b, key, nullptr, nullptr, 0, nullptr, nullptr);
      })};
  X509_free(cert);
  EVP_PKEY_free(key);
  return out;
}

std::shared_ptr<const proxy::Certificate> parsed_certificate(std::vector<std::string> names) {
  const TestCertificate made = make_certificate({std::move(names)});
  return proxy::Certificate::parse(made.chain_pem, made.key_pem);
}

const TestCertificate& shared_test_certificate() {
  static const TestCertificate cert = make_certificate({{"localhost", "*.test", "app", "a"}});
  return cert;
}

}  // namespace handoff::test
