#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "control/base/flags.hpp"
#include "control/protocol/requests.hpp"

namespace handoff::control {

/// The HTTPS flags that `service add`, `service update` and `deploy` share: --tls-cert FILE
/// with --tls-key FILE, or --tls acme|off; --redirect-https / --no-redirect-https; --hsts N.
class TlsFlags {
 public:
  /// Appends the flags to a command's table; they write into this object.
  void add_to(std::vector<Flag>& flags);
  /// Whether any was given.
  [[nodiscard]] bool any() const;
  /// Puts what was given into a request body. The certificate and key files are read here, on
  /// the user's side, and travel as PEM text: the proxy (often a container) cannot see them.
  /// Throws std::invalid_argument for an unreadable file or a missing half of the pair.
  void write_to(TlsRequest& request) const;

 private:
  std::string cert_file_;
  std::string key_file_;
  std::string mode_;
  std::optional<bool> redirect_https_;
  std::optional<std::int64_t> hsts_;
};

}  // namespace handoff::control
