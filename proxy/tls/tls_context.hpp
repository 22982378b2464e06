#pragma once

#include <openssl/types.h>

#include <chrono>
#include <memory>

#include "proxy/routing/shared_slot.hpp"
#include "proxy/tls/certificate_store.hpp"
#include "proxy/tls/ticket_keys.hpp"

namespace handoff::proxy {

/// The server side of TLS, shared by every worker: one SSL_CTX with TLS 1.2 and 1.3 only,
/// Mozilla's "intermediate" ciphers, ALPN `http/1.1`, session tickets whose keys are shared and
/// rotated, and buffers released while a connection is idle. The certificate is chosen per
/// handshake from the current CertificateStore by the client's server name (SNI); a name no
/// certificate covers ends the handshake with an `unrecognized_name` alert.
class TlsContext {
 public:
  /// Throws std::runtime_error when OpenSSL cannot set it up.
  explicit TlsContext(std::chrono::seconds ticket_rotation = std::chrono::hours(12));
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  /// Installs a new set of certificates with one atomic store: handshakes that start afterwards
  /// see it; established connections keep the certificate they were given.
  void replace(std::shared_ptr<const CertificateStore> store) { store_.exchange(std::move(store)); }
  /// Whether ALPN offers HTTP/2 (`h2` before `http/1.1`); set before the first handshake.
  void offer_http2(bool on) { http2_ = on; }
  /// The certificates new handshakes see.
  [[nodiscard]] std::shared_ptr<const CertificateStore> certificates() const {
    return store_.load();
  }

  /// A new server-side connection object (the caller owns it; SSL_free).
  [[nodiscard]] SSL* new_connection() const;
  /// The OpenSSL context (for tests that make clients against it).
  [[nodiscard]] SSL_CTX* native() const { return ctx_; }

 private:
  static int on_server_name(SSL* ssl, int* alert, void* arg);
  static int on_ticket_key(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                           EVP_MAC_CTX* mac, int encrypt);
  static int on_alpn(SSL* ssl, const unsigned char** out, unsigned char* out_len,
                     const unsigned char* in, unsigned int in_len, void* arg);

  SSL_CTX* ctx_ = nullptr;
  SharedSlot<const CertificateStore> store_{std::make_shared<const CertificateStore>()};
  TicketKeys tickets_;
  bool http2_ = true;
};

}  // namespace handoff::proxy
