#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "control/protocol/requests.hpp"
#include "proxy/tls/certificate.hpp"

namespace handoff::control {

/// Where a service's certificate comes from.
enum class CertificateSource {
  none,   ///< no certificate of its own (the default certificate, if any, answers its names)
  given,  ///< a certificate and key the user gave (--tls-cert/--tls-key)
  acme,   ///< issued and renewed automatically (--tls acme)
};

/// Where the automatic certificate of a service stands (shown in status).
struct AcmeState {
  std::string state;         ///< "pending", "issuing", "valid" or "failed"
  std::string error;         ///< why the last attempt failed
  std::string next_attempt;  ///< when it is tried again (UTC), after a failure
};

/// A service's HTTPS settings.
struct ServiceTls {
  CertificateSource source = CertificateSource::none;
  /// The certificate presented for its names (for acme: once issued). May be null.
  std::shared_ptr<const proxy::Certificate> certificate;
  /// The certificate was issued by ACME (a service switched to acme keeps its given one, not
  /// issued by ACME, until its first is).
  bool issued_by_acme = false;
  bool redirect_https = false;     ///< plain HTTP requests get a redirect to HTTPS
  std::uint32_t hsts_seconds = 0;  ///< Strict-Transport-Security max-age; 0: none
  AcmeState acme;                  ///< with source `acme`
};

/// A change to a service's HTTPS settings as the API takes it: what is not set stays as it is.
struct TlsChange {
  std::optional<CertificateSource> source = {};
  std::shared_ptr<const proxy::Certificate> certificate = {};  ///< with source `given`
  std::optional<bool> redirect_https = {};
  std::optional<std::uint32_t> hsts_seconds = {};

  /// The change a request's HTTPS fields ask for. Throws DomainError 400 (a certificate
  /// without its key, a bad mode, both a certificate and a mode, a certificate that does not
  /// parse).
  static TlsChange from(const TlsRequest& request);
  /// Whether anything is set.
  [[nodiscard]] bool empty() const { return !source && !redirect_https && !hsts_seconds; }
  /// Whether applying it to `current` would change anything.
  [[nodiscard]] bool changes(const ServiceTls& current) const;
  /// `current` with this change applied.
  [[nodiscard]] ServiceTls applied_to(ServiceTls current) const;
};

/// The name a certificate source is written with in the API, the state file and status.
std::string_view source_name(CertificateSource source);
/// The source written as `name`; throws std::invalid_argument for another word.
CertificateSource parse_source(std::string_view name);

/// The hosts of `hosts` (path prefixes ignored) that `certificate`'s names do not cover: a
/// client asking for one by SNI would see a name mismatch.
std::vector<std::string> uncovered_hosts(const proxy::Certificate& certificate,
                                         const std::vector<std::string>& hosts);

/// What `status` shows of a service's HTTPS settings (empty object when it has none).
boost::json::object tls_status(const ServiceTls& tls);

}  // namespace handoff::control
