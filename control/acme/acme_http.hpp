#pragma once

#include <map>
#include <string>

namespace handoff::control {

/// One HTTP answer from an ACME server.
struct AcmeReply {
  long status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  ///< names lowercased; the last value of each

  /// A header's value, or "".
  [[nodiscard]] std::string header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
};

/// HTTPS to an ACME server with libcurl, trusting the system's CAs or `ca_file`. Blocking:
/// runs on the ACME thread, never on a data-plane or control-socket thread.
class AcmeHttp {
 public:
  /// `ca_file`: a PEM bundle to trust instead of the system's (a test CA); "" for the system's.
  explicit AcmeHttp(std::string ca_file) : ca_file_(std::move(ca_file)) {}

  /// GET `url`. Throws std::runtime_error when no answer comes (connection, TLS, timeout).
  [[nodiscard]] AcmeReply get(const std::string& url) const;
  /// HEAD `url` (for a fresh nonce).
  [[nodiscard]] AcmeReply head(const std::string& url) const;
  /// POST a JWS (`application/jose+json`) to `url`.
  [[nodiscard]] AcmeReply post(const std::string& url, const std::string& jws) const;

 private:
  [[nodiscard]] AcmeReply perform(const std::string& method, const std::string& url,
                                  const std::string* body) const;
  std::string ca_file_;
};

}  // namespace handoff::control
