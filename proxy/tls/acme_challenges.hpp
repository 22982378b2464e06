#pragma once

#include <atomic>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

namespace handoff::proxy {

/// The ACME HTTP-01 key authorizations being validated right now, by token. The plain
/// listeners answer `GET /.well-known/acme-challenge/TOKEN` from here before routing. Only
/// requests for that path look here (and take the lock), and only while an order is open.
class AcmeChallenges {
 public:
  /// The path prefix HTTP-01 validation requests use (RFC 8555 §8.3).
  static constexpr std::string_view kPathPrefix = "/.well-known/acme-challenge/";

  /// Answers `token` with `key_authorization` until withdrawn.
  void publish(const std::string& token, const std::string& key_authorization);
  /// Stops answering `token`.
  void withdraw(const std::string& token);
  /// The key authorization for a request target under kPathPrefix, if one is published.
  [[nodiscard]] std::optional<std::string> answer(std::string_view target) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::string> by_token_;
  std::atomic<bool> any_{false};  // lets the request path skip the lock when nothing is open
};

}  // namespace handoff::proxy
