#include "tests/support/tls_client.hpp"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <thread>

#include "tests/support/fd_io.hpp"

namespace handoff::test {

namespace {

std::mutex ports_mutex;
std::set<std::uint16_t> tls_ports;

SSL_CTX* client_context() {
  static SSL_CTX* ctx = [] {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(c, SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_CLIENT);
    const unsigned char alpn[] = {8, 'h', 't', 't', 'p', '/', '1', '.', '1'};
    SSL_CTX_set_alpn_protos(c, alpn, sizeof alpn);
    return c;
  }();
  return ctx;
}

}  // namespace

bool tls_mode() {
  static const bool on = std::getenv("HANDOFF_TEST_TLS") != nullptr;
  return on;
}

void mark_tls_port(std::uint16_t port, bool on) {
  std::lock_guard lock(ports_mutex);
  if (on) {
    tls_ports.insert(port);
  } else {
    tls_ports.erase(port);
  }
}

bool is_tls_port(std::uint16_t port) {
  std::lock_guard lock(ports_mutex);
  return tls_ports.count(port) != 0;
}

TlsClient::TlsClient(int fd, const std::string& server_name, SSL_SESSION* session) {
  ssl_ = SSL_new(client_context());
  SSL_set_fd(ssl_, fd);
  SSL_set_tlsext_host_name(ssl_, server_name.c_str());
  if (session != nullptr) {
    SSL_set_session(ssl_, session);
  }
  ERR_clear_error();
  if (SSL_connect(ssl_) != 1) {
    const unsigned long code = ERR_get_error();
    const char* reason = ERR_reason_error_string(code);
    SSL_free(ssl_);
    ssl_ = nullptr;
    throw std::runtime_error(std::string("TLS handshake failed: ") +
                             (reason != nullptr ? reason : "connection closed"));
  }
}

TlsClient::~TlsClient() {
  SSL_free(ssl_);
}

bool TlsClient::send_all(std::string_view bytes, std::string* error) {
  std::size_t from = 0;
  for (const std::size_t to : send_cuts(bytes.size())) {
    if (from > 0) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    if (!send_whole(bytes.substr(from, to - from), error)) {
      return false;
    }
    from = to;
  }
  return true;
}

bool TlsClient::send_whole(std::string_view bytes, std::string* error) {
  while (!bytes.empty()) {
    std::size_t n = 0;
    if (SSL_write_ex(ssl_, bytes.data(), bytes.size(), &n) != 1) {
      ERR_clear_error();
      if (error != nullptr) {
        *error = "TLS write failed";
      }
      return false;
    }
    bytes.remove_prefix(n);
  }
  return true;
}

long TlsClient::recv_some(char* buffer, std::size_t size) {
  std::size_t n = 0;
  if (SSL_read_ex(ssl_, buffer, size, &n) == 1) {
    return static_cast<long>(n);
  }
  const int err = SSL_get_error(ssl_, 0);
  ERR_clear_error();
  return err == SSL_ERROR_ZERO_RETURN ? 0 : -1;
}

void TlsClient::close_notify() {
  SSL_shutdown(ssl_);
  ERR_clear_error();
}

}  // namespace handoff::test
