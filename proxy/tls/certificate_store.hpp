#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "proxy/tls/certificate.hpp"

namespace handoff::proxy {

/// A certificate and the names it is presented for.
struct CertificateEntry {
  std::shared_ptr<const Certificate> certificate;
  /// Names given explicitly (a service's hosts); they win over names found in other
  /// certificates. The certificate's own names are added after these.
  std::vector<std::string> hosts;
};

/// The immutable map from a TLS server name (SNI) to the certificate to present. A change
/// builds a new store, installed with one atomic store; a handshake reads the one current when
/// it starts.
class CertificateStore {
 public:
  /// An empty store (every name unknown; the default, when given, answers all).
  CertificateStore() = default;
  /// Builds the store; `fallback` (may be null) answers names no entry claims.
  CertificateStore(const std::vector<CertificateEntry>& entries,
                   std::shared_ptr<const Certificate> fallback);

  /// The certificate for a server name (case ignored; empty when the client sent none): an
  /// exact name first, then a `*.` wildcard one label deep, then the fallback. Null: none.
  [[nodiscard]] const Certificate* find(std::string_view server_name) const;
  /// Whether any certificate is configured.
  [[nodiscard]] bool empty() const { return by_name_.empty() && !fallback_; }

 private:
  struct NameHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  void claim(std::string name, const std::shared_ptr<const Certificate>& certificate);

  std::unordered_map<std::string, std::shared_ptr<const Certificate>, NameHash, std::equal_to<>>
      by_name_;
  std::shared_ptr<const Certificate> fallback_;
};

}  // namespace handoff::proxy
