#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>

namespace handoff::test {

/// A free TCP port on 127.0.0.1 right now (bound and released; a test binds it soon after).
std::uint16_t free_port();

/// Let's Encrypt's test ACME server (Debian's `pebble`) on 127.0.0.1, with its mock DNS
/// (`pebble-challtestsrv`, every name → 127.0.0.1) on 127.0.0.1 too: no outside resolver is
/// ever asked. Pebble's own defaults stay on: it rejects some nonces and sleeps up to 15 s
/// before each validation, as a real CA may. Both stop when this is destroyed.
class PebbleServer {
 public:
  /// Starts both; HTTP-01 validations go to 127.0.0.1:`http_port`. Throws when pebble does
  /// not answer within 20 s.
  PebbleServer(const std::filesystem::path& dir, std::uint16_t http_port);
  ~PebbleServer();
  PebbleServer(const PebbleServer&) = delete;
  PebbleServer& operator=(const PebbleServer&) = delete;

  /// The directory URL (https://localhost:PORT/dir).
  [[nodiscard]] std::string directory() const;
  /// The CA file that pebble's HTTPS listener verifies with (for --acme-ca).
  [[nodiscard]] std::string ca_file() const { return ca_file_; }
  /// The root that issued certificates chain to (from pebble's management API), as a file.
  [[nodiscard]] std::string issuing_root() const;
  /// What pebble logged.
  [[nodiscard]] std::string log() const;

 private:
  std::filesystem::path dir_;
  std::string ca_file_;
  std::uint16_t acme_port_ = 0;
  std::uint16_t management_port_ = 0;
  pid_t pebble_ = -1;
  pid_t dns_ = -1;
};

}  // namespace handoff::test
