#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

namespace handoff::proxy {

/// The keys that encrypt TLS session tickets, shared by every worker (one SSL_CTX) so that a
/// ticket issued by one worker resumes on any other. The newest key encrypts; it is replaced
/// every `rotate_every`, and the key before it still decrypts for one more period, so a ticket
/// lives at most two periods. A ticket under the older key is renewed when it resumes.
class TicketKeys {
 public:
  /// One key: a name the ticket carries, an AES-256 key and an HMAC-SHA256 key.
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
    std::chrono::steady_clock::time_point created;
  };

  /// Starts with one fresh random key.
  explicit TicketKeys(std::chrono::seconds rotate_every);

  /// The key to encrypt a new ticket with (rotating first when the current one is due).
  Key encrypting(std::chrono::steady_clock::time_point now);
  /// The key named `name`, and whether the ticket should be renewed (it is not the newest);
  /// empty when no key of that name is kept any more.
  std::optional<std::pair<Key, bool>> decrypting(const unsigned char* name,
                                                 std::chrono::steady_clock::time_point now);

 private:
  void rotate_if_due(std::chrono::steady_clock::time_point now);

  std::chrono::seconds rotate_every_;
  std::mutex mutex_;       // handshakes on every worker rotate and read the keys
  std::vector<Key> keys_;  // newest first; at most two
};

}  // namespace handoff::proxy
