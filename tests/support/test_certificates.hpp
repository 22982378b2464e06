#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "proxy/tls/certificate.hpp"

namespace handoff::test {

/// A certificate made for a test: PEM text of the certificate and of its key.
struct TestCertificate {
  std::string chain_pem;
  std::string key_pem;
};

/// What to make.
struct CertificateSpec {
  std::vector<std::string> names = {"localhost"};  ///< DNS subjectAltNames; the first is the CN
  std::chrono::hours valid_from = std::chrono::hours(-1);  ///< relative to now
  std::chrono::hours valid_until = std::chrono::hours(24 * 30);
  std::string key_pem = {};  ///< sign with this key (PEM) instead of a new P-256 key
};

/// A self-signed ECDSA P-256 certificate (its own CA), made with OpenSSL.
TestCertificate make_certificate(const CertificateSpec& spec = {});

/// A new self-signed certificate for `names`, parsed as the proxy holds it.
std::shared_ptr<const proxy::Certificate> parsed_certificate(std::vector<std::string> names);

/// The certificate the relay tests use when they run over TLS (localhost, 127.0.0.1, *.test,
/// and every name a test sends, through the proxy's default certificate).
const TestCertificate& shared_test_certificate();

}  // namespace handoff::test
