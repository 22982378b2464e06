#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <functional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <vector>

#include "control/acme/acme_crypto.hpp"
#include "control/acme/acme_http.hpp"

namespace handoff::control {

/// Why an ACME step failed: the server's problem document, or the transport's error.
class AcmeError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Where HTTP-01 key authorizations are published while a challenge is validated.
struct ChallengePublisher {
  std::function<void(const std::string& token, const std::string& key_authorization)> publish;
  std::function<void(const std::string& token)> withdraw;
};

/// A certificate issued: the chain and its new private key, as PEM.
struct IssuedCertificate {
  std::string chain_pem;
  std::string key_pem;
};

/// An ACME (RFC 8555) client for one account: registers it, orders a certificate for a set of
/// names, proves control of each through HTTP-01, finalizes with a CSR for a new P-256 key and
/// downloads the chain. Blocking; a `badNonce` is retried with the fresh nonce, as the RFC
/// asks. Every wait ends at once when `stop` is requested, so a shutdown stops an order.
class AcmeClient {
 public:
  /// `account_url` may be empty: the account is registered (or found) on first use.
  AcmeClient(std::string directory_url, std::string ca_file, EcKey account_key,
             std::string account_url, std::string email, std::stop_token stop);

  /// The account's URL, registering the account first when none is known. Throws AcmeError.
  const std::string& account();
  /// Issues a certificate for `names` (DNS names, no wildcards). Throws AcmeError.
  IssuedCertificate issue(const std::vector<std::string>& names,
                          const ChallengePublisher& challenges);

 private:
  void load_directory();
  std::string take_nonce();
  AcmeReply signed_post(const std::string& url, const std::string& payload);
  boost::json::object post_json(const std::string& url, const std::string& payload,
                                AcmeReply* reply = nullptr);
  void authorize(const std::string& authorization_url, const ChallengePublisher& challenges);
  boost::json::object poll(const std::string& url, const std::string& done_status);
  void pause(std::chrono::milliseconds how_long);

  AcmeHttp http_;
  std::string directory_url_;
  EcKey key_;
  std::string account_url_;
  std::string email_;
  std::stop_token stop_;
  boost::json::object directory_;
  std::string nonce_;  // from the last reply; empty: ask newNonce
};

}  // namespace handoff::control
