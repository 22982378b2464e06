#include "proxy/tls/ticket_keys.hpp"

#include <openssl/rand.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace handoff::proxy {

namespace {

TicketKeys::Key random_key(std::chrono::steady_clock::time_point now) {
  TicketKeys::Key k;
  if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
      RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
      RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1) {
    throw std::runtime_error("cannot make a TLS session ticket key: no randomness");
  }
  k.created = now;
  return k;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds rotate_every) : rotate_every_(rotate_every) {
  keys_.push_back(random_key(std::chrono::steady_clock::now()));
}

void TicketKeys::rotate_if_due(std::chrono::steady_clock::time_point now) {
  if (now - keys_.front().created < rotate_every_) {
    return;
  }
  // A key idle for two periods decrypts nothing any more: every ticket it made has expired.
  if (now - keys_.front().created >= 2 * rotate_every_) {
    keys_.clear();
  }
  keys_.insert(keys_.begin(), random_key(now));
  keys_.resize(std::min<std::size_t>(keys_.size(), 2));
}

TicketKeys::Key TicketKeys::encrypting(std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  rotate_if_due(now);
  return keys_.front();
}

std::optional<std::pair<TicketKeys::Key, bool>> TicketKeys::decrypting(
    const unsigned char* name, std::chrono::steady_clock::time_point now) {
  std::lock_guard lock(mutex_);
  rotate_if_due(now);
  for (std::size_t i = 0; i < keys_.size(); ++i) {
    if (std::memcmp(keys_[i].name.data(), name, keys_[i].name.size()) == 0) {
      return std::pair{keys_[i], i != 0};
    }
  }
  return std::nullopt;
}

}  // namespace handoff::proxy
