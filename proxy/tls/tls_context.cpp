#include "proxy/tls/tls_context.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace handoff::proxy {

namespace {

// Mozilla's "intermediate" configuration (v5.7) for TLS 1.2; TLS 1.3 keeps OpenSSL's suites,
// which are the same list.
constexpr const char* kTls12Ciphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";
// The groups nginx offers by default, in its order.
constexpr const char* kGroups = "X25519:prime256v1:X448:secp521r1:secp384r1";
// Sessions kept for resumption by session ID (TLS 1.2 clients without tickets): one cache in the
// one SSL_CTX every worker shares, so a client resumes whichever worker accepts it.
constexpr long kSessionCacheSize = 20'000;
constexpr unsigned char kSessionIdContext[] = {'h', 'a', 'n', 'd', 'o', 'f', 'f'};

// ALPN protocols in the server's order of preference, in wire format: with HTTP/2, and without.
constexpr unsigned char kAlpnH2[] = {2, 'h', '2', 8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
constexpr unsigned char kAlpnH1[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("TLS set-up failed: ") + what + ": " +
                             openssl_error_text());
  }
}

}  // namespace

TlsContext::TlsContext(std::chrono::seconds ticket_rotation) : tickets_(ticket_rotation) {
  ctx_ = SSL_CTX_new(TLS_server_method());
  check(ctx_ != nullptr, "SSL_CTX_new");
  check(SSL_CTX_set_min_proto_version(ctx_, TLS1_2_VERSION) == 1, "minimum version");
  check(SSL_CTX_set_max_proto_version(ctx_, TLS1_3_VERSION) == 1, "maximum version");
  check(SSL_CTX_set_cipher_list(ctx_, kTls12Ciphers) == 1, "ciphers");
  check(SSL_CTX_set1_groups_list(ctx_, kGroups) == 1, "groups");
  check(SSL_CTX_set_dh_auto(ctx_, 1) == 1, "DH parameters");
  // No renegotiation (a TLS 1.2 DoS lever), a peer that closes without close_notify reads as
  // an end of stream, the client's cipher preference (intermediate's choice).
  SSL_CTX_set_options(
      ctx_, SSL_OP_NO_RENEGOTIATION | SSL_OP_IGNORE_UNEXPECTED_EOF | SSL_OP_NO_COMPRESSION);
  // Tickets carry most sessions; a TLS 1.2 client without them resumes by session ID from a
  // bounded server-side cache (OpenSSL's, locked; expired entries are flushed as it fills).
  SSL_CTX_set_session_cache_mode(ctx_, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx_, kSessionCacheSize);
  check(SSL_CTX_set_session_id_context(ctx_, kSessionIdContext, sizeof kSessionIdContext) == 1,
        "session id context");
  // Buffers go back while a connection is idle, so that it holds only its session state. The
  // chain sent is the one given with the certificate: without NO_AUTO_CHAIN OpenSSL would build
  // (and verify) a chain from its store on every handshake that has none, as nginx also avoids.
  SSL_CTX_set_mode(ctx_, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_NO_AUTO_CHAIN);
  // Read ahead: one receive takes every record that has arrived, not a header then a body.
  SSL_CTX_set_read_ahead(ctx_, 1);
  // A ticket can be decrypted for up to two rotation periods (see TicketKeys).
  SSL_CTX_set_timeout(ctx_, static_cast<long>(2 * ticket_rotation.count()));
  SSL_CTX_set_app_data(ctx_, this);
  SSL_CTX_set_tlsext_servername_callback(ctx_, &TlsContext::on_server_name);
  SSL_CTX_set_tlsext_servername_arg(ctx_, this);
  check(SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx_, &TlsContext::on_ticket_key) == 1,
        "session tickets");
  SSL_CTX_set_alpn_select_cb(ctx_, &TlsContext::on_alpn, this);
}

TlsContext::~TlsContext() {
  SSL_CTX_free(ctx_);
}

SSL* TlsContext::new_connection() const {
  SSL* ssl = SSL_new(ctx_);
  if (ssl == nullptr) {
    throw std::runtime_error("SSL_new failed: " + openssl_error_text());
  }
  return ssl;
}

// Picks the certificate by SNI. The store is read once per handshake; the SSL takes its own
// references, so a swap during the handshake cannot free what it presents.
int TlsContext::on_server_name(SSL* ssl, int* alert, void* arg) {
  const auto* self = static_cast<const TlsContext*>(arg);
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const std::shared_ptr<const CertificateStore> store = self->store_.load();
  const Certificate* cert = store->find(name != nullptr ? name : "");
  if (cert == nullptr) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  if (SSL_use_cert_and_key(ssl, cert->leaf(), cert->key(), cert->chain(), 1) != 1) {
    ERR_clear_error();
    *alert = SSL_AD_INTERNAL_ERROR;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  return SSL_TLSEXT_ERR_OK;
}

// Encrypts a new ticket under the newest key, or finds the key of a presented ticket: 1 to
// accept, 2 to accept and issue a fresh ticket (older key), 0 for a full handshake.
int TlsContext::on_ticket_key(SSL* ssl, unsigned char* name, unsigned char* iv,
                              EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac, int encrypt) {
  auto* self = static_cast<TlsContext*>(SSL_CTX_get_app_data(SSL_get_SSL_CTX(ssl)));
  const auto now = std::chrono::steady_clock::now();
  TicketKeys::Key key;
  int result = 1;
  if (encrypt == 1) {
    key = self->tickets_.encrypting(now);
    std::memcpy(name, key.name.data(), key.name.size());
    if (RAND_bytes(iv, EVP_MAX_IV_LENGTH) != 1) {
      return -1;
    }
  } else {
    const auto found = self->tickets_.decrypting(name, now);
    if (!found) {
      return 0;
    }
    key = found->first;
    result = found->second ? 2 : 1;
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.hmac.data(), key.hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_END};
  const int init = encrypt == 1
                       ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv)
                       : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes.data(), iv);
  if (init != 1 || EVP_MAC_CTX_set_params(mac, params) != 1) {
    return -1;
  }
  return result;
}

// The first of our protocols the client offers; none in common: no ALPN (HTTP/1.1 is assumed).
int TlsContext::on_alpn(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_len,
                        const unsigned char* in, unsigned int in_len, void* arg) {
  const bool h2 = static_cast<const TlsContext*>(arg)->http2_;
  unsigned char* selected = nullptr;
  if (SSL_select_next_proto(&selected, out_len, h2 ? kAlpnH2 : kAlpnH1,
                            h2 ? sizeof kAlpnH2 : sizeof kAlpnH1, in,
                            in_len) != OPENSSL_NPN_NEGOTIATED) {
    return SSL_TLSEXT_ERR_NOACK;
  }
  *out = selected;
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace handoff::proxy
