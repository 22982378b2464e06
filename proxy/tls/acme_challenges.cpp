#include "proxy/tls/acme_challenges.hpp"

namespace handoff::proxy {

void AcmeChallenges::publish(const std::string& token, const std::string& key_authorization) {
  std::lock_guard lock(mutex_);
  by_token_[token] = key_authorization;
  any_.store(true);
}

void AcmeChallenges::withdraw(const std::string& token) {
  std::lock_guard lock(mutex_);
  by_token_.erase(token);
  any_.store(!by_token_.empty());
}

std::optional<std::string> AcmeChallenges::answer(std::string_view target) const {
  if (!any_.load(std::memory_order_relaxed) ||
      target.substr(0, kPathPrefix.size()) != kPathPrefix) {
    return std::nullopt;
  }
  const std::string token(target.substr(kPathPrefix.size()));
  std::lock_guard lock(mutex_);
  auto it = by_token_.find(token);
  if (it == by_token_.end()) {
    return std::nullopt;
  }
  return it->second;
}

}  // namespace handoff::proxy
