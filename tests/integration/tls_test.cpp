// HTTPS at the front, against a real `handoff run` process: certificates per service picked by
// SNI, swapped without a reload, refused when bad, kept across a restart; redirects and HSTS;
// what a TLS port does with plain HTTP, garbage and slow handshakes; session resumption. The
// relay's own rules over TLS are the relay tests run again with HANDOFF_TEST_TLS (CMakeLists).
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/socket_client.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_certificates.hpp"
#include "tests/support/tls_client.hpp"
#include "tests/support/unix_http.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// A certificate made for `names`, written as DIR/LABEL.crt and DIR/LABEL.key.
struct CertFiles {
  TestCertificate pem;
  std::string cert;
  std::string key;
};

CertFiles write_certificate(const fs::path& dir, const std::string& label, CertificateSpec spec) {
  CertFiles f{make_certificate(spec), (dir / (label + ".crt")).string(),
              (dir / (label + ".key")).string()};
  std::ofstream(f.cert) << f.pem.chain_pem;
  std::ofstream(f.key) << f.pem.key_pem;
  return f;
}

// curl over HTTPS to HOST on the proxy's TLS port, trusting `cacert`: exit code, then body and
// the status on the last line (or curl's error).
std::pair<int, std::string> curl_https(std::uint16_t port, const std::string& host,
                                       const std::string& cacert, const std::string& path = "/",
                                       const std::string& extra = "") {
  const std::string p = std::to_string(port);
  return shell("curl -sS --max-time 10 --cacert " + cacert + " --resolve " + host + ":" + p +
               ":127.0.0.1 " + extra + " -w '\\n%{http_code}' https://" + host + ":" + p + path +
               " 2>&1");
}

// The certificate the proxy presented on `client`'s connection, as PEM.
std::string presented(const SocketClient& client) {
  X509* peer = SSL_get1_peer_certificate(client.tls()->native());
  BIO* bio = BIO_new(BIO_s_mem());
  PEM_write_bio_X509(bio, peer);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, static_cast<std::size_t>(n));
  BIO_free(bio);
  X509_free(peer);
  return pem;
}

// `handoff run` flags for an HTTPS-only proxy in front of `upstream` whose default certificate
// is `fallback`, plus `more`.
std::vector<std::string> https_front(const std::string& upstream, const CertFiles& fallback,
                                     std::vector<std::string> more = {}) {
  std::vector<std::string> flags = {
      "--listen-tls",       "127.0.0.1:0", "--upstream",        upstream,
      "--tls-default-cert", fallback.cert, "--tls-default-key", fallback.key};
  flags.insert(flags.end(), more.begin(), more.end());
  return flags;
}

// One GET on an open connection; the body, or "" when it failed.
std::string get_on(SocketClient& c, const std::string& host) {
  if (!c.send("GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n")) {
    return "";
  }
  const Response r = c.read_response();
  return r.status == 200 ? r.body : "";
}

}  // namespace

TEST_CASE("each service's certificate is picked by SNI and verifies, unknown names are refused") {
  TestBackend backend(TestBackend::respond("hello"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--listen-tls", "127.0.0.1:0"});
  const std::uint16_t port = proxy.tls_port();
  const CertFiles a = write_certificate(dir.path(), "a", {{"a.test", "*.a.test"}});
  const CertFiles b = write_certificate(dir.path(), "b", {{"b.test"}});
  REQUIRE(proxy
              .cli({"service", "add", "a", "--host", "a.test", "--host", "*.a.test", "--upstream",
                    backend.address(), "--tls-cert", a.cert, "--tls-key", a.key})
              .code == 0);
  REQUIRE(proxy
              .cli({"service", "add", "b", "--host", "b.test", "--upstream", backend.address(),
                    "--tls-cert", b.cert, "--tls-key", b.key})
              .code == 0);
  CHECK(curl_https(port, "a.test", a.cert).second == "hello\n200");
  CHECK(curl_https(port, "www.a.test", a.cert).second == "hello\n200");
  CHECK(curl_https(port, "b.test", b.cert).second == "hello\n200");
  // b's certificate does not verify as a's: the proxy really presents a different one.
  CHECK(curl_https(port, "b.test", a.cert).first != 0);
  const auto unknown = curl_https(port, "c.test", a.cert, "/", "-k");
  CHECK(unknown.first != 0);
  CHECK(unknown.second.find("unrecognized name") != std::string::npos);
  const auto seen = backend.requests();
  REQUIRE_FALSE(seen.empty());
  CHECK(seen.back().header("x-forwarded-proto") == "https");
  // ALPN picks h2 first, http/1.1 for a client without it, and TLS 1.1 is refused.
  auto [code, text] = shell("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                            " -servername a.test -alpn http/1.1,h2 2>&1");
  CHECK(text.find("ALPN protocol: h2") != std::string::npos);
  std::tie(code, text) =
      shell("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
            " -servername a.test -alpn http/1.1 2>&1");
  CHECK(text.find("ALPN protocol: http/1.1") != std::string::npos);
  std::tie(code, text) =
      shell("echo | openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
            " -servername a.test -tls1_1 -cipher DEFAULT@SECLEVEL=0 2>&1");
  CHECK(code != 0);
}

TEST_CASE("a certificate update reaches new handshakes only, open TLS connections keep going") {
  TestBackend backend(TestBackend::respond("hello"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--listen-tls", "127.0.0.1:0", "--threads", "2"});
  const std::uint16_t port = proxy.tls_port();
  const CertFiles first = write_certificate(dir.path(), "first", {{"localhost"}});
  const CertFiles second = write_certificate(dir.path(), "second", {{"localhost"}});
  REQUIRE(proxy
              .cli({"service", "add", "web", "--host", "localhost", "--upstream", backend.address(),
                    "--tls-cert", first.cert, "--tls-key", first.key})
              .code == 0);
  SocketClient open(port, 10s, "localhost");
  CHECK(presented(open) == first.pem.chain_pem);
  CHECK(get_on(open, "localhost") == "hello");
  REQUIRE(
      proxy.cli({"service", "update", "web", "--tls-cert", second.cert, "--tls-key", second.key})
          .code == 0);
  SocketClient fresh(port, 10s, "localhost");
  CHECK(presented(fresh) == second.pem.chain_pem);
  CHECK(get_on(fresh, "localhost") == "hello");
  // The connection opened before keeps its certificate and keeps serving.
  for (int i = 0; i < 3; ++i) {
    CHECK(get_on(open, "localhost") == "hello");
  }
  // A bad certificate is refused with the reason, and the one in use stays.
  const CertFiles expired = write_certificate(
      dir.path(), "expired", {{"localhost"}, std::chrono::hours(-48), std::chrono::hours(-1)});
  CommandResult r =
      proxy.cli({"service", "update", "web", "--tls-cert", expired.cert, "--tls-key", expired.key});
  CHECK(r.code != 0);
  CHECK(r.err.find("expired on") != std::string::npos);
  r = proxy.cli({"service", "update", "web", "--tls-cert", first.cert, "--tls-key", second.key});
  CHECK(r.code != 0);
  CHECK(r.err.find("does not match") != std::string::npos);
  r = proxy.cli({"service", "update", "web", "--tls-cert", (dir.path() / "none.crt").string(),
                 "--tls-key", first.key});
  CHECK(r.code != 0);
  CHECK(r.err.find("cannot read --tls-cert file") != std::string::npos);
  SocketClient after(port, 10s, "localhost");
  CHECK(presented(after) == second.pem.chain_pem);
}

TEST_CASE("certificates and HTTPS settings survive a restart, in a state file only root reads") {
  TestBackend backend(TestBackend::respond("hello"));
  TempDir dir;
  const CertFiles cert = write_certificate(dir.path(), "web", {{"web.test"}});
  {
    RunningProxy proxy(dir.path(), {"--listen-tls", "127.0.0.1:0"});
    REQUIRE(
        proxy
            .cli({"service", "add", "web", "--host", "web.test", "--upstream", backend.address(),
                  "--tls-cert", cert.cert, "--tls-key", cert.key, "--hsts", "600"})
            .code == 0);
  }
  struct stat st {};
  REQUIRE(::stat((dir.path() / "state" / "state.json").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0600);
  RunningProxy again(dir.path(), {"--listen-tls", "127.0.0.1:0"});
  const auto [code, out] = curl_https(again.tls_port(), "web.test", cert.cert, "/", "-D -");
  CHECK(code == 0);
  CHECK(out.find("strict-transport-security: max-age=600") != std::string::npos);  // HTTP/2
}

TEST_CASE("plain HTTP is redirected to HTTPS when a service asks, HSTS goes over HTTPS only") {
  TestBackend backend(TestBackend::respond("hello"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--listen-tls", "127.0.0.1:0"});
  const std::uint16_t tls_port = proxy.tls_port();
  const CertFiles cert = write_certificate(dir.path(), "web", {{"web.test"}});
  REQUIRE(proxy
              .cli({"service", "add", "web", "--host", "web.test", "--upstream", backend.address(),
                    "--tls-cert", cert.cert, "--tls-key", cert.key, "--hsts", "31536000"})
              .code == 0);
  Response plain = request_once(proxy.port(), "GET /page?q=1 HTTP/1.1\r\nHost: web.test\r\n\r\n");
  CHECK(plain.status == 200);
  CHECK(plain.header("strict-transport-security").empty());
  REQUIRE(proxy.cli({"service", "update", "web", "--redirect-https"}).code == 0);
  const std::size_t before = backend.requests().size();
  Response get =
      request_once(proxy.port(), "GET /page?q=1 HTTP/1.1\r\nHost: web.test:8080\r\n\r\n");
  CHECK(get.status == 301);
  CHECK(get.header("location") == "https://web.test:" + std::to_string(tls_port) + "/page?q=1");
  Response post = request_once(
      proxy.port(), "POST /form HTTP/1.1\r\nHost: web.test\r\nContent-Length: 3\r\n\r\nabc");
  CHECK(post.status == 308);
  CHECK(post.header("location") == "https://web.test:" + std::to_string(tls_port) + "/form");
  CHECK(backend.requests().size() == before);  // neither reached the app
  // curl follows the redirect to HTTPS and gets the page, with HSTS.
  const std::string p = std::to_string(proxy.port());
  const auto [code, out] =
      shell("curl -sS -L -D - --cacert " + cert.cert + " --resolve web.test:" + p +
            ":127.0.0.1 --resolve web.test:" + std::to_string(tls_port) +
            ":127.0.0.1 http://web.test:" + p + "/x 2>&1");
  CHECK(code == 0);
  CHECK(out.find("strict-transport-security: max-age=31536000") != std::string::npos);
  CHECK(out.find("hello") != std::string::npos);
}

TEST_CASE("the default certificate answers names no service covers") {
  TestBackend backend(TestBackend::respond("fallback"));
  TempDir dir;
  const CertFiles fallback = write_certificate(dir.path(), "default", {{"default.test"}});
  RunningProxy proxy(dir.path(), https_front(backend.address(), fallback));
  const auto [code, out] = curl_https(proxy.tls_port(), "default.test", fallback.cert);
  CHECK(code == 0);
  CHECK(out == "fallback\n200");
  // A bad default stops the start with the reason.
  const auto [exit_code, err] = run_handoff(
      {"run", "--listen", "127.0.0.1:0", "--listen-tls", "127.0.0.1:0", "--state-dir",
       (dir.path() / "other").string(), "--control", (dir.path() / "other.sock").string(),
       "--tls-default-cert", fallback.cert, "--tls-default-key", fallback.cert});
  CHECK(exit_code != 0);
  CHECK(err.find("private key cannot be parsed") != std::string::npos);
}

TEST_CASE("plain HTTP, garbage and stalled handshakes are closed, 1000 of them stall no one") {
  TestBackend backend(TestBackend::respond("hello"));
  TempDir dir;
  const CertFiles fallback = write_certificate(dir.path(), "default", {{"localhost"}});
  RunningProxy proxy(dir.path(),
                     https_front(backend.address(), fallback, {"--client-header-timeout", "2s"}));
  const std::uint16_t port = proxy.tls_port();
  {
    SocketClient plain(port);  // a plain client: the port is not marked TLS here
    plain.send("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n");
    CHECK(plain.closed_by_peer(3s));
    SocketClient garbage(port);
    garbage.send(std::string(4096, '\x17'));
    CHECK(garbage.closed_by_peer(3s));
  }
  // 1000 clients that send the first bytes of a handshake and then nothing.
  std::vector<std::unique_ptr<SocketClient>> slow;
  for (int i = 0; i < 1000; ++i) {
    slow.push_back(std::make_unique<SocketClient>(port, 5s));
    slow.back()->send(std::string("\x16\x03\x01\x02\x00\x01", 6));
  }
  const auto [code, out] = curl_https(port, "localhost", fallback.cert);
  CHECK(code == 0);
  CHECK(out == "hello\n200");
  // The handshake timeout closes every one of them, and counts them.
  std::size_t closed = 0;
  for (std::size_t i = 0; i < slow.size(); ++i) {
    const bool gone = slow[i]->closed_by_peer(5s);
    closed += gone ? 1 : 0;
    if (!gone) {
      MESSAGE("slow client " << i << " still open");
    }
  }
  CHECK(closed == slow.size());
  const std::string metrics = unix_request(proxy.control(), "GET", "/metrics").body;
  const std::string name = "\nhandoff_tls_handshake_failures_total ";
  const std::size_t at = metrics.find(name);
  REQUIRE(at != std::string::npos);
  CHECK(std::stoul(metrics.substr(at + name.size())) >= 1002);
}

TEST_CASE("TLS 1.3 sessions resume on every worker with the shared ticket keys") {
  TestBackend backend(TestBackend::respond("hello"));
  TempDir dir;
  const CertFiles fallback = write_certificate(dir.path(), "default", {{"localhost"}});
  RunningProxy proxy(dir.path(), https_front(backend.address(), fallback, {"--threads", "2"}));
  const std::string connect =
      "-connect 127.0.0.1:" + std::to_string(proxy.tls_port()) + " -servername localhost -tls1_3";
  const std::string session = (dir.path() / "session.pem").string();
  // The ticket comes after the handshake: keep the connection open a moment to read it.
  REQUIRE(shell("(sleep 0.5) | openssl s_client " + connect + " -sess_out " + session +
                " >/dev/null 2>&1")
              .first == 0);
  int reused = 0;
  for (int i = 0; i < 6; ++i) {  // SO_REUSEPORT spreads these over both workers
    const auto [code, out] =
        shell("(sleep 0.2) | openssl s_client " + connect + " -sess_in " + session + " 2>&1");
    reused += out.find("Reused, TLSv1.3") != std::string::npos ? 1 : 0;
  }
  CHECK(reused == 6);
}

TEST_CASE("TLS 1.2 sessions resume by session ID on every worker, and nginx's groups are offered") {
  TestBackend backend(TestBackend::respond("hello"));
  TempDir dir;
  const CertFiles fallback = write_certificate(dir.path(), "default", {{"localhost"}});
  RunningProxy proxy(dir.path(), https_front(backend.address(), fallback, {"--threads", "2"}));
  const std::string connect =
      "-connect 127.0.0.1:" + std::to_string(proxy.tls_port()) + " -servername localhost";
  // -reconnect: one full handshake, then five resumptions of its session; -no_ticket: by ID.
  const auto [code, out] =
      shell("openssl s_client " + connect + " -tls1_2 -no_ticket -reconnect </dev/null 2>&1");
  CHECK(code == 0);
  std::size_t reused = 0;
  for (std::size_t at = out.find("Reused, TLSv1.2"); at != std::string::npos;
       at = out.find("Reused, TLSv1.2", at + 1)) {
    ++reused;
  }
  CHECK(reused == 5);
  for (const char* group : {"X25519", "P-256", "X448", "P-521", "P-384"}) {
    CAPTURE(group);
    const auto [ok, text] =
        shell("openssl s_client " + connect + " -tls1_3 -groups " + group + " </dev/null 2>&1");
    CHECK(ok == 0);
    CHECK(text.find("Server Temp Key") != std::string::npos);
  }
}
