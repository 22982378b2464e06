// The server side of TLS against a real OpenSSL client over a socket pair: certificate choice
// by SNI, the alert for an unknown name, protocol versions, ALPN and ticket resumption.
#include "proxy/tls/tls_context.hpp"

#include <doctest/doctest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <future>
#include <string>
#include <thread>

#include "tests/support/test_certificates.hpp"

using namespace handoff;
using proxy::Certificate;
using proxy::CertificateStore;
using proxy::TlsContext;

namespace {

using test::parsed_certificate;

// A store of `entries` (each certificate for its own names) and `fallback`.
std::shared_ptr<const CertificateStore> store_of(
    const std::vector<std::shared_ptr<const Certificate>>& entries,
    std::shared_ptr<const Certificate> fallback = nullptr) {
  std::vector<proxy::CertificateEntry> list;
  for (const auto& c : entries) {
    list.push_back({c, {}});
  }
  return std::make_shared<const CertificateStore>(list, std::move(fallback));
}

/// What the client saw of one handshake.
struct Handshake {
  bool ok = false;
  std::string error;     // the client's reason when it failed
  X509* peer = nullptr;  // the certificate presented (owned)
  std::string alpn;      // the protocol agreed, if any
  bool resumed = false;
  SSL_SESSION* session = nullptr;  // for a resumption (owned)
  ~Handshake() {
    X509_free(peer);
    SSL_SESSION_free(session);
  }
};

struct ClientOptions {
  std::string server_name;
  int max_version = TLS1_3_VERSION;
  std::string alpn = std::string("\x08http/1.1", 9);
  SSL_SESSION* resume = nullptr;
};

// Runs a handshake: the server side on a thread with the context's own SSL, the client here.
void handshake(const TlsContext& ctx, const ClientOptions& opt, Handshake& out) {
  int fds[2];
  REQUIRE(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  auto server = std::async(std::launch::async, [&ctx, fd = fds[1]] {
    SSL* ssl = ctx.new_connection();
    SSL_set_fd(ssl, fd);
    SSL_accept(ssl);
    ERR_clear_error();
    SSL_shutdown(ssl);
    SSL_free(ssl);
    ::close(fd);
  });
  SSL_CTX* client_ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_set_max_proto_version(client_ctx, opt.max_version);
  SSL_CTX_set_security_level(client_ctx, 0);  // let the client offer old versions
  SSL* ssl = SSL_new(client_ctx);
  SSL_set_fd(ssl, fds[0]);
  if (!opt.server_name.empty()) {
    SSL_set_tlsext_host_name(ssl, opt.server_name.c_str());
  }
  SSL_set_alpn_protos(ssl, reinterpret_cast<const unsigned char*>(opt.alpn.data()),
                      static_cast<unsigned>(opt.alpn.size()));
  if (opt.resume != nullptr) {
    SSL_set_session(ssl, opt.resume);
  }
  out.ok = SSL_connect(ssl) == 1;
  if (out.ok) {
    out.peer = SSL_get1_peer_certificate(ssl);
    const unsigned char* proto = nullptr;
    unsigned len = 0;
    SSL_get0_alpn_selected(ssl, &proto, &len);
    out.alpn.assign(reinterpret_cast<const char*>(proto), len);
    out.resumed = SSL_session_reused(ssl) == 1;
    out.session = SSL_get1_session(ssl);
  } else {
    const char* reason = ERR_reason_error_string(ERR_get_error());
    out.error = reason != nullptr ? reason : "closed";
  }
  if (out.ok) {
    SSL_shutdown(ssl);  // a session not shut down cleanly is marked unresumable
  }
  ERR_clear_error();
  SSL_free(ssl);
  SSL_CTX_free(client_ctx);
  ::close(fds[0]);
  server.get();
}

}  // namespace

TEST_CASE("SNI picks each handshake's certificate from the current store") {
  TlsContext ctx;
  const auto a = parsed_certificate({"a.test"});
  const auto b = parsed_certificate({"b.test"});
  ctx.replace(store_of({a, b}));
  Handshake to_a;
  handshake(ctx, {"a.test"}, to_a);
  REQUIRE(to_a.ok);
  CHECK(X509_cmp(to_a.peer, a->leaf()) == 0);
  CHECK(to_a.alpn == "http/1.1");
  Handshake to_b;
  handshake(ctx, {"B.TEST"}, to_b);
  REQUIRE(to_b.ok);
  CHECK(X509_cmp(to_b.peer, b->leaf()) == 0);
  // One store replaces the other: the next handshake for b gets the new certificate.
  const auto b2 = parsed_certificate({"b.test"});
  ctx.replace(store_of({a, b2}));
  Handshake again;
  handshake(ctx, {"b.test"}, again);
  REQUIRE(again.ok);
  CHECK(X509_cmp(again.peer, b2->leaf()) == 0);
}

TEST_CASE("a name no certificate covers gets unrecognized_name, or the default when there is one") {
  TlsContext ctx;
  const auto a = parsed_certificate({"a.test"});
  ctx.replace(store_of({a}));
  Handshake unknown;
  handshake(ctx, {"other.test"}, unknown);
  CHECK_FALSE(unknown.ok);
  CHECK(unknown.error == "tlsv1 unrecognized name");
  Handshake no_sni;
  handshake(ctx, {""}, no_sni);
  CHECK_FALSE(no_sni.ok);
  const auto fallback = parsed_certificate({"default.test"});
  ctx.replace(store_of({a}, fallback));
  Handshake defaulted;
  handshake(ctx, {"other.test"}, defaulted);
  REQUIRE(defaulted.ok);
  CHECK(X509_cmp(defaulted.peer, fallback->leaf()) == 0);
}

TEST_CASE("TLS 1.1 and older are refused, ALPN picks h2 first and nothing unknown") {
  TlsContext ctx;
  ctx.replace(store_of({}, parsed_certificate({"a.test"})));
  Handshake old;
  handshake(ctx, {"a.test", TLS1_1_VERSION}, old);
  CHECK_FALSE(old.ok);
  Handshake tls12;
  handshake(ctx, {"a.test", TLS1_2_VERSION}, tls12);
  CHECK(tls12.ok);
  Handshake both;
  handshake(ctx, {"a.test", TLS1_3_VERSION, std::string("\x08http/1.1\x02h2", 12)}, both);
  REQUIRE(both.ok);
  CHECK(both.alpn == "h2");  // the server's preference, whatever the client's order
  Handshake unknown;
  handshake(ctx, {"a.test", TLS1_3_VERSION, std::string("\x06spdy/3", 7)}, unknown);
  REQUIRE(unknown.ok);
  CHECK(unknown.alpn.empty());
  ctx.offer_http2(false);  // --no-http2
  Handshake h1;
  handshake(ctx, {"a.test", TLS1_3_VERSION, std::string("\x02h2\x08http/1.1", 12)}, h1);
  REQUIRE(h1.ok);
  CHECK(h1.alpn == "http/1.1");
}

TEST_CASE("a ticket resumes the session, across a key rotation, and not after two") {
  TlsContext ctx(std::chrono::seconds(1));
  ctx.replace(store_of({}, parsed_certificate({"a.test"})));
  // TLS 1.2 carries the ticket inside the handshake (1.3 sends it after; see the TLS tests).
  Handshake first;
  handshake(ctx, {"a.test", TLS1_2_VERSION}, first);
  REQUIRE(first.ok);
  CHECK_FALSE(first.resumed);
  CHECK(SSL_SESSION_has_ticket(first.session) == 1);
  Handshake second;
  handshake(ctx, {"a.test", TLS1_2_VERSION, "\x08http/1.1", first.session}, second);
  REQUIRE(second.ok);
  CHECK(second.resumed);
  std::this_thread::sleep_for(std::chrono::milliseconds(1100));  // one rotation
  Handshake rotated;
  handshake(ctx, {"a.test", TLS1_2_VERSION, "\x08http/1.1", second.session}, rotated);
  REQUIRE(rotated.ok);
  CHECK(rotated.resumed);
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));  // the key is gone
  Handshake expired;
  handshake(ctx, {"a.test", TLS1_2_VERSION, "\x08http/1.1", first.session}, expired);
  REQUIRE(expired.ok);
  CHECK_FALSE(expired.resumed);
}
