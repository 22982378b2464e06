#pragma once

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "control/acme/acme_client.hpp"
#include "control/base/background_thread.hpp"
#include "control/registry/service_registry.hpp"
#include "proxy/tls/acme_challenges.hpp"

namespace handoff::control {

/// How handoff talks to its ACME server.
struct AcmeSettings {
  std::string directory_url;  ///< --acme-directory
  std::string email;          ///< --acme-email, the account's contact
  std::string ca_file;        ///< --acme-ca: trust this CA for the ACME server (a test CA)
  /// A certificate is renewed once this fraction of its lifetime has passed (--acme-renew-at).
  double renew_at = 2.0 / 3.0;
  /// The first wait after a failed order (--acme-retry); it doubles with each failure, to 1 h.
  std::chrono::milliseconds retry{std::chrono::seconds(30)};
};

/// Gets and renews the certificates of services with `--tls acme`, in the background: once a
/// second it looks for a service without a certificate, with one that no longer covers its
/// hosts, or with one past its renewal point, and orders one (HTTP-01, answered by the plain
/// listeners through proxy::AcmeChallenges). A new certificate is installed with one atomic
/// store; a failure is logged, shown in status, retried with back-off, and the service keeps
/// the certificate it has. The account key and URL live in the state directory (mode 0600).
class AcmeManager {
 public:
  AcmeManager(AcmeSettings settings, ServiceRegistry& registry, proxy::AcmeChallenges& challenges,
              std::filesystem::path state_dir);
  AcmeManager(const AcmeManager&) = delete;
  AcmeManager& operator=(const AcmeManager&) = delete;

  /// Starts the background thread.
  void start();
  /// Stops it (an order in progress is abandoned at its next wait) and joins it.
  void stop();

 private:
  /// Back-off of one service after failures.
  struct Retry {
    int failures = 0;
    std::chrono::steady_clock::time_point next;
  };

  void run(const std::stop_token& stop);
  void serve(const AcmeTarget& target, const std::stop_token& stop);
  [[nodiscard]] bool due(const AcmeTarget& target, const std::vector<std::string>& names) const;
  AcmeClient& client(const std::stop_token& stop);
  void remember_account(const std::string& url) const;
  void failed(const std::string& service, const std::string& why);

  AcmeSettings settings_;
  ServiceRegistry& registry_;
  proxy::AcmeChallenges& challenges_;
  std::filesystem::path key_file_;
  std::filesystem::path account_file_;
  std::unique_ptr<AcmeClient> client_;
  std::map<std::string, Retry> retries_;
  BackgroundThread thread_;  // last: joined before the other members go
};

/// The names an automatic certificate for `hosts` covers: each host without a path prefix,
/// once; wildcards and host-less prefixes are left out (HTTP-01 cannot prove them).
std::vector<std::string> acme_names(const std::vector<std::string>& hosts);

}  // namespace handoff::control
