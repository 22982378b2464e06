// HTTP/2 to clients, against a real `handoff run` process: real clients (curl, nghttp,
// h2load) for what users do, and a frame-level client (h2_client.py, on python3-h2) for what
// attackers and broken clients do. What reaches the backend is checked, not only what the
// client got.
#include <doctest/doctest.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "tests/support/docker_fixture.hpp"
#include "tests/support/eventually.hpp"
#include "tests/support/proxy_under_test.hpp"
#include "tests/support/recording_backend.hpp"
#include "tests/support/running_proxy.hpp"
#include "tests/support/test_backend.hpp"
#include "tests/support/test_certificates.hpp"
#include "tests/support/unix_http.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

namespace {

// Runs a case of the frame-level client against `port`; its output lines.
std::string h2_case(const std::string& args) {
  return shell("/usr/bin/python3 " HANDOFF_SOURCE_DIR "/tests/integration/h2_client.py " + args +
               " 2>&1")
      .second;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A certificate for localhost, written into `dir`: flags for an HTTPS listener using it.
std::vector<std::string> tls_flags(const fs::path& dir) {
  const TestCertificate cert = make_certificate({{"localhost"}});
  std::ofstream(dir / "cert.pem") << cert.chain_pem;
  std::ofstream(dir / "key.pem") << cert.key_pem;
  return {"--listen-tls",       "127.0.0.1:0",
          "--tls-default-cert", (dir / "cert.pem").string(),
          "--tls-default-key",  (dir / "key.pem").string()};
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// A backend answering `name` everywhere but on /slow, which it answers after 3 s.
TestBackend::Handler named_slow(std::string name) {
  return [name = std::move(name)](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      if (r->target == "/slow") {
        std::this_thread::sleep_for(3s);
      }
      if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(name.size()) + "\r\n\r\n" +
                  name)) {
        return;
      }
    }
  };
}

std::string swap_command(const RunningProxy& proxy, const std::string& to) {
  return handoff_binary() + " swap default --to " + to + " --health-interval 100ms --control " +
         proxy.control();
}

}  // namespace

TEST_CASE("curl and nghttp get HTTP/2 by ALPN over TLS and by prior knowledge with --h2c") {
  TestBackend backend(TestBackend::respond("hello"));
  TempDir dir;
  RunningProxy proxy(dir.path(),
                     with(tls_flags(dir.path()), {"--upstream", backend.address(), "--h2c"}));
  const std::string tls = std::to_string(proxy.tls_port());
  const std::string ca = (dir.path() / "cert.pem").string();
  CHECK(shell("curl -sS --http2 --cacert " + ca + " -w ' %{http_version} %{http_code}' https://" +
              "localhost:" + tls + "/")
            .second == "hello 2 200");
  CHECK(shell("curl -sS --http2-prior-knowledge -w ' %{http_version}' http://127.0.0.1:" +
              std::to_string(proxy.port()) + "/")
            .second == "hello 2");
  // HTTP/1.1 still works on both listeners.
  CHECK(shell("curl -sS --http1.1 --cacert " + ca +
              " -w ' %{http_version}' https://localhost:" + tls + "/")
            .second == "hello 1.1");
  CHECK(
      shell("curl -sS -w ' %{http_version}' http://127.0.0.1:" + std::to_string(proxy.port()) + "/")
          .second == "hello 1.1");
  const auto [code, out] =
      shell("nghttp -v https://localhost:" + tls + "/a https://localhost:" + tls + "/b 2>&1");
  CHECK(code == 0);
  // nghttp opens streams 1-11 as priority anchors; the two requests are 13 and 15.
  CHECK(contains(out, "recv (stream_id=13) :status: 200"));
  CHECK(contains(out, "recv (stream_id=15) :status: 200"));
  CHECK(contains(out, "SETTINGS_MAX_CONCURRENT_STREAMS(0x03):100"));

  TempDir plain_dir;
  RunningProxy h1_only(plain_dir.path(), with(tls_flags(plain_dir.path()),
                                              {"--upstream", backend.address(), "--no-http2"}));
  CHECK(shell("curl -sS --http2 -k -w ' %{http_version}' https://localhost:" +
              std::to_string(h1_only.tls_port()) + "/")
            .second == "hello 1.1");
  // Without --h2c a plain listener reads the preface as a bad HTTP/1.1 request.
  CHECK(shell("curl -sS --http2-prior-knowledge http://127.0.0.1:" +
              std::to_string(h1_only.port()) + "/ 2>&1")
            .second.find("hello") == std::string::npos);
}

TEST_CASE("what reaches the backend: Host from :authority, cookies joined, trailers both ways") {
  RecordingBackend backend([](const ParsedRequest& r) {
    if (r.target == "/fields") {
      // Connection-specific fields in a response must not reach an HTTP/2 client; trailers
      // (but not those that frame or route a message) go on as a trailing HEADERS frame.
      return RecordingBackend::Answer{
          {"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n"
           "X-App: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
           "5\r\nchunk\r\n0\r\nX-Sum: 42\r\nContent-Length: 9\r\n\r\n"},
          false};
    }
    return RecordingBackend::ok("body=" + r.body);
  });
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--h2c"});
  const std::string port = std::to_string(proxy.port());

  const std::string fields = h2_case("headers " + port);
  CHECK(contains(fields, "response :status: 200"));
  CHECK(contains(fields, "response x-app: 1"));
  CHECK(contains(fields, "response via: 1.1 handoff"));
  CHECK_FALSE(contains(fields, "response connection"));
  CHECK_FALSE(contains(fields, "response keep-alive"));
  CHECK_FALSE(contains(fields, "response transfer-encoding"));
  CHECK(contains(fields, "200 chunk\n"));
  CHECK(contains(fields, "trailer x-sum: 42"));
  CHECK_FALSE(contains(fields, "trailer content-length"));
  const std::string trailers = h2_case("trailers " + port);
  CHECK(contains(trailers, "200 body=hello big world"));

  const std::string seen = backend.received();
  INFO(seen);
  CHECK(contains(seen, "GET /fields HTTP/1.1\r\nHost: app\r\n"));
  CHECK(contains(seen, "cookie: a=1; b=2\r\n"));
  CHECK(contains(seen, "user-agent: h2-test\r\n"));
  CHECK_FALSE(contains(seen, "te: trailers"));
  CHECK(contains(seen, "POST /upload HTTP/1.1\r\nHost: app\r\n"));
  CHECK(contains(seen, "Transfer-Encoding: chunked\r\n"));
  // DATA frames that arrived together go up as one chunk.
  CHECK(contains(seen, "\r\n0\r\nx-checksum: abc\r\n\r\n"));
  REQUIRE(backend.requests().size() == 2);
  CHECK(backend.requests()[1].body == "hello big world");
}

TEST_CASE("a request split at every byte boundary reaches the backend whole, once") {
  RecordingBackend backend([](const ParsedRequest& r) {
    return RecordingBackend::ok("got " + std::to_string(r.body.size()));
  });
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--h2c", "--no-access-log"});
  const std::string out = h2_case("split-everywhere " + std::to_string(proxy.port()));
  INFO(out);
  CHECK(out.find(" 0 failed\n") != std::string::npos);
  const std::vector<ParsedRequest> seen = backend.requests();
  const std::size_t cuts = std::stoul(out.substr(out.rfind('\n', out.size() - 2) + 1));
  CHECK(seen.size() == cuts);
  for (const ParsedRequest& r : seen) {
    CHECK(r.target == "/split");
    CHECK(r.body == "hello");
  }
}

TEST_CASE("malformed requests are reset with PROTOCOL_ERROR and never reach the backend") {
  RecordingBackend backend([](const ParsedRequest&) { return RecordingBackend::ok("ok"); });
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--h2c"});
  const std::string out = h2_case("malformed " + std::to_string(proxy.port()));
  INFO(out);
  for (const char* name : {"connection", "keep-alive", "transfer-encoding", "upgrade", "te-gzip",
                           "uppercase", "pseudo-after-regular", "value-newline", "no-path"}) {
    CHECK(contains(out, std::string(name) + ": reset 1\n"));
  }
  CHECK(contains(out, "good: status 200"));
  REQUIRE(backend.requests().size() == 1);
  CHECK(backend.requests()[0].target == "/good");
}

TEST_CASE("known HTTP/2 attacks are refused and memory stays bounded") {
  TestBackend backend(TestBackend::respond("ok"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--h2c", "--no-access-log",
                                  "--client-io-timeout", "2s", "--client-header-timeout", "1s"});
  const std::string port = std::to_string(proxy.port());
  CHECK(h2_case("get " + port + " / 1") == "200 ok\n");
  const long baseline = proxy.process().rss_kib();

  // Rapid reset (CVE-2023-44487): the connection is ended; few streams reach the backend.
  const std::string reset = h2_case("rapid-reset " + port + " 20000");
  CHECK((contains(reset, "goaway") || contains(reset, "closed")));
  MESSAGE("rapid reset of 20000 streams: " << reset << ", backend requests "
                                           << backend.requests().size());
  CHECK(backend.requests().size() < 5000);
  // A header block that never ends.
  const std::string continuation = h2_case("continuation-flood " + port + " 100000");
  CHECK((contains(continuation, "goaway") || contains(continuation, "closed")));
  // A header block that is never finished: the connection is closed at the header timeout.
  const std::string partial = h2_case("partial-head " + port);
  CHECK(contains(partial, "goaway 0\nafter 1 s"));
  // 64 MB of headers from 16 KB: refused with 431, the connection serves on.
  const std::string bomb = h2_case("hpack-bomb " + port);
  CHECK(contains(bomb, "bomb: status 431"));
  CHECK(contains(bomb, "after: status 200"));
  // Header blocks over the limit again and again: three 431s, then GOAWAY ENHANCE_YOUR_CALM (11),
  // counted.
  const std::string oversized = h2_case("oversized-heads " + port + " 10");
  CHECK(oversized ==
        "seed: status 200\nbig 1: status 431\nbig 2: status 431\nbig 3: status 431\n"
        "big 4: goaway 11\n");
  CHECK(contains(unix_request(proxy.control(), "GET", "/metrics").body,
                 "handoff_http2_calmed_connections_total 1\n"));
  // Floods of frames that ask for an answer, from a client that reads none.
  for (const char* kind : {"settings", "ping"}) {
    const std::string flood = h2_case(std::string("flood ") + port + " " + kind + " 1000000");
    INFO(kind << ": " << flood);
    CHECK((contains(flood, "goaway") || contains(flood, "closed")));
  }
  // A client that never opens its window for an answer already complete: the connection is
  // closed at the I/O timeout (the next test has the stream that still runs).
  const std::string stall = h2_case("zero-window " + port + " /");
  CHECK(contains(stall, "stream: goaway 0\nafter 2 s"));

  const long after = proxy.process().rss_kib();
  MESSAGE("RSS " << baseline << " KiB before the attacks, " << after << " KiB after");
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(after - baseline < 32 * 1024);
#endif
  CHECK(h2_case("get " + port + " / 3") == "200 ok\n200 ok\n200 ok\n");
}

TEST_CASE("a client that stops reading: its stream times out, the upstream is read no further") {
  // The backend sends 8 MiB; the client's window is zero: at most the stream's 64 KiB and the
  // socket buffers may be read from the upstream.
  TestBackend backend([](BackendConnection& c, TestBackend& self) {
    while (auto r = c.read_request()) {
      self.record(*r);
      const std::string block(1 << 20, 'z');
      c.send("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(8 << 20) + "\r\n\r\n");
      for (int i = 0; i < 8; ++i) {
        if (!c.send(block)) {
          return;
        }
      }
    }
  });
  TempDir dir;
  RunningProxy proxy(dir.path(),
                     {"--upstream", backend.address(), "--h2c", "--client-io-timeout", "2s"});
  const std::string out = h2_case("zero-window " + std::to_string(proxy.port()) + " /big");
  INFO(out);
  CHECK(contains(out, "stream: reset 2"));
  CHECK(contains(out, "after 2 s"));
  CHECK(contains(out, "ping answered"));
}

TEST_CASE("each stream picks its upstream: a swap mid-connection moves the next streams") {
  TestBackend a(named_slow("a"));
  TestBackend b(named_slow("b"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", a.address(), "--h2c"});
  const std::string port = std::to_string(proxy.port());
  const std::string out = h2_case("swap " + port + " '" + swap_command(proxy, b.address()) + "'");
  CHECK(out == "200 a\n200 b\nsame connection\n");

  // A slow stream on b, a swap back to a while it runs: new streams on the same connection go
  // to a at once, the slow one finishes on b, and the swap's drain waits for it alone.
  const std::string marker = (dir.path() / "started").string();
  const std::string mixed = h2_case("slow-then-more " + port + " /slow /fast " + marker + " '" +
                                    swap_command(proxy, a.address()) + "'");
  CHECK(mixed == "fast 200 a\nfast 200 a\nfast 200 a\nslow 200 b\ncommand 0\n");
}

TEST_CASE("pause holds new streams until resume, a dead upstream fails its stream alone") {
  TestBackend backend(TestBackend::respond("ok"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--h2c"});
  const std::string port = std::to_string(proxy.port());
  REQUIRE(proxy.cli({"pause", "default"}).code == 0);
  std::string held;
  std::thread client([&] { held = h2_case("get " + port + " / 2"); });
  std::this_thread::sleep_for(700ms);
  CHECK(backend.requests().size() == 0);
  REQUIRE(proxy.cli({"resume", "default"}).code == 0);
  client.join();
  CHECK(held == "200 ok\n200 ok\n");

  REQUIRE(
      proxy.cli({"service", "add", "gone", "--host", "gone", "--upstream", "127.0.0.1:1"}).code ==
      0);
  const std::string both = h2_case("get-hosts " + port + " gone app gone app");
  CHECK(both == "502\n200 ok\n502\n200 ok\n");
}

TEST_CASE("shutdown sends GOAWAY in two steps and finishes the stream in flight") {
  TestBackend backend(named_slow("done"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--h2c"});
  const std::string out = h2_case("goaway " + std::to_string(proxy.port()) + " /slow 'kill -TERM " +
                                  std::to_string(proxy.process().pid()) + "'");
  INFO(out);
  const std::size_t notice = out.find("goaway last_stream_id=2147483647 code=0");
  const std::size_t last = out.find("goaway last_stream_id=1 code=0");
  const std::size_t answered = out.find("body 4 bytes, ended");
  CHECK(notice != std::string::npos);
  CHECK(last != std::string::npos);
  CHECK(answered != std::string::npos);
  CHECK(notice < last);
  CHECK(out.find("closed") > answered);
  CHECK(proxy.process().wait_exit(10s) == 0);
}

TEST_CASE("50 swaps under h2load: no stream fails") {
  TestBackend a(TestBackend::respond("a"));
  TestBackend b(TestBackend::respond("b"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", a.address(), "--h2c", "--no-access-log"});
  std::string load;
  std::thread client([&] {
    load = shell("h2load -D 12 -c 10 -m 10 -t 1 http://127.0.0.1:" + std::to_string(proxy.port()) +
                 "/ 2>&1")
               .second;
  });
  int failed_swaps = 0;
  for (int i = 0; i < 50; ++i) {
    const std::string to = i % 2 == 0 ? b.address() : a.address();
    failed_swaps += proxy.cli({"swap", "default", "--to", to, "--health-interval", "50ms"}).code;
  }
  client.join();
  INFO(load);
  CHECK(failed_swaps == 0);
  CHECK(contains(load, " 0 failed, 0 errored, 0 timeout"));
  CHECK(contains(load, "0 4xx, 0 5xx"));
  CHECK(a.requests().size() > 100);
  CHECK(b.requests().size() > 100);
}

TEST_CASE("a drain timeout resets only the streams still on the old upstream") {
  TestBackend a(named_slow("a"));
  TestBackend b(named_slow("b"));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", a.address(), "--h2c"});
  const std::string marker = (dir.path() / "started").string();
  const std::string out =
      h2_case("slow-then-more " + std::to_string(proxy.port()) + " /slow /fast " + marker + " '" +
              swap_command(proxy, b.address()) + " --drain-timeout 500ms'");
  // The slow stream is reset (INTERNAL_ERROR) at the drain timeout; the others are answered.
  CHECK(out == "fast 200 b\nfast 200 b\nfast 200 b\nslow reset 2\ncommand 0\n");
}

TEST_CASE("a 1 GiB upload and a 1 GiB download over HTTP/2 keep RSS bounded") {
  TestBackend backend(TestBackend::bulk(std::size_t{1} << 30));
  TempDir dir;
  RunningProxy proxy(dir.path(), {"--upstream", backend.address(), "--h2c", "--no-access-log"});
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/big";
  // A sparse file: curl sends its length, so the backend counts exactly the body.
  const std::string file = (dir.path() / "upload").string();
  std::ofstream(file).close();
  fs::resize_file(file, std::uintmax_t{1} << 30);
  const auto [up_code, uploaded] =
      shell("curl -sS --http2-prior-knowledge -T " + file + " -X PUT " + url);
  CHECK(up_code == 0);
  CHECK(uploaded == "1073741824");
  const auto [down_code, downloaded] = shell(
      "curl -sS --http2-prior-knowledge -o /dev/null -w "
      "'%{size_download} %{http_version}' " +
      url);
  CHECK(down_code == 0);
  CHECK(downloaded == "1073741824 2");
  const long peak = proxy.process().peak_rss_kib();
  MESSAGE("RSS peak " << peak << " KiB");
#if !defined(__SANITIZE_ADDRESS__)
  CHECK(peak < 64 * 1024);
#endif
}

namespace {

// A backend whose every answer takes `delay`, noting the most requests it ever had at once.
struct CountingBackend {
  std::atomic<int> active{0};
  std::atomic<int> most{0};
  TestBackend server;

  explicit CountingBackend(std::chrono::milliseconds delay)
      : server([this, delay](BackendConnection& c, TestBackend&) {
          while (auto r = c.read_request()) {
            const int now = ++active;
            for (int seen = most.load(); now > seen && !most.compare_exchange_weak(seen, now);) {
            }
            std::this_thread::sleep_for(delay);
            --active;
            if (!c.send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")) {
              return;
            }
          }
        }) {}
};

}  // namespace

TEST_CASE("--max-conns-per-member holds one HTTP/2 client's 100 streams to 4 connections") {
  CountingBackend backend(50ms);
  TempDir dir;
  RunningProxy proxy(
      dir.path(), {"--upstream", backend.server.address(), "--h2c", "--no-access-log", "--threads",
                   "1", "--max-conns-per-member", "4", "--queue-timeout", "30s"});
  const std::string load =
      shell("h2load -n 300 -c 1 -m 100 http://127.0.0.1:" + std::to_string(proxy.port()) + "/ 2>&1")
          .second;
  INFO(load);
  CHECK(contains(load, "300 succeeded, 0 failed"));
  CHECK(contains(load, "status codes: 300 2xx"));
  CHECK(backend.most.load() <= 4);
  CHECK(backend.most.load() >= 2);  // the streams did run side by side
  CHECK(backend.server.connections() <= 4);
}

TEST_CASE("a request that waits its whole queue timeout gets 503 with Retry-After, counted") {
  CountingBackend backend(1500ms);
  TempDir dir;
  RunningProxy proxy(
      dir.path(), {"--upstream", backend.server.address(), "--h2c", "--no-access-log",
                   "--max-conns-per-member", "1", "--max-queue", "2", "--queue-timeout", "200ms"});
  const std::string load =
      shell("h2load -n 5 -c 1 -m 5 http://127.0.0.1:" + std::to_string(proxy.port()) + "/ 2>&1")
          .second;
  INFO(load);
  // One is served; two wait and time out; two find the queue full.
  CHECK(contains(load, "status codes: 1 2xx, 0 3xx, 0 4xx, 4 5xx"));
  CHECK(backend.most.load() == 1);
  const std::string metrics = unix_request(proxy.control(), "GET", "/metrics").body;
  CHECK(contains(metrics, "handoff_upstream_queue_refused_total{service=\"default\",upstream=\"" +
                              backend.server.address() + "\"} 4\n"));
  // Over HTTP/1.1: one request holds the only connection, the next waits its 200 ms and hears
  // when to come back.
  const std::string curl =
      "curl -sS -D - -o /dev/null --max-time 5 http://127.0.0.1:" + std::to_string(proxy.port()) +
      "/ 2>&1";
  auto holder = std::async(std::launch::async, [&] { return shell(curl).second; });
  REQUIRE(eventually([&] { return backend.active.load() != 0; }));
  const std::string headers = shell(curl).second;
  CHECK(contains(holder.get(), "HTTP/1.1 200"));
  INFO(headers);
  CHECK(contains(headers, "HTTP/1.1 503"));
  CHECK(contains(headers, "Retry-After: 1"));
}

TEST_CASE("a service's own connection cap wins over run's, changes live and survives a restart") {
  CountingBackend backend(100ms);
  TempDir dir;
  const std::vector<std::string> flags = {
      "--upstream", backend.server.address(), "--h2c", "--no-access-log", "--threads",
      "1",          "--max-conns-per-member", "8"};
  auto load = [](const RunningProxy& proxy) {
    return shell("h2load -n 40 -c 1 -m 40 http://127.0.0.1:" + std::to_string(proxy.port()) +
                 "/ 2>&1")
        .second;
  };
  {
    RunningProxy proxy(dir.path(), flags);
    REQUIRE(proxy.cli({"service", "update", "default", "--max-conns-per-member", "1"}).code == 0);
    CHECK(contains(load(proxy), "status codes: 40 2xx"));
    CHECK(backend.most.load() == 1);
    REQUIRE(proxy.cli({"service", "update", "default", "--max-conns-per-member", "3"}).code == 0);
    backend.most = 0;
    CHECK(contains(load(proxy), "status codes: 40 2xx"));
    CHECK(backend.most.load() == 3);
    proxy.process().signal(SIGTERM);
    CHECK(proxy.process().wait_exit() == 0);
  }
  RunningProxy again(dir.path(), flags);
  CHECK(contains(again.cli({"status", "--json"}).out, "\"max_conns_per_member\":3"));
  backend.most = 0;
  CHECK(contains(load(again), "status codes: 40 2xx"));
  CHECK(backend.most.load() == 3);
}

TEST_CASE("the connection cap holds over TLS, for HTTP/2 streams and HTTP/1.1 connections alike") {
  CountingBackend backend(30ms);
  TempDir dir;
  RunningProxy proxy(dir.path(), with({"--upstream", backend.server.address(), "--no-access-log",
                                       "--max-conns-per-member", "2", "--queue-timeout", "30s"},
                                      tls_flags(dir.path())));
  const std::string url = "https://127.0.0.1:" + std::to_string(proxy.tls_port()) + "/";
  const std::string h2 = shell("h2load -n 60 -c 1 -m 30 " + url + " 2>&1").second;
  INFO(h2);
  CHECK(contains(h2, "60 succeeded, 0 failed"));
  const std::string h1 = shell("h2load --h1 -n 60 -c 10 " + url + " 2>&1").second;
  INFO(h1);
  CHECK(contains(h1, "60 succeeded, 0 failed"));
  CHECK(backend.most.load() == 2);
}

// One request front for both protocols: a body over --max-body is refused at the same point
// over HTTP/1.1 and HTTP/2 (announced: before routing; growing on the way: as it arrives), and a
// refusal the proxy makes of its own is never booked on the member as the member's answer.
TEST_CASE(
    "a body over --max-body is refused alike over HTTP/1.1 and HTTP/2, never as the member's") {
  TestBackend backend(TestBackend::respond("ok"));
  ProxyUnderTest proxy(backend.address(), [](auto& c) {
    c.max_body_bytes = 1000;
    c.h2c = true;
  });
  TempDir dir;
  const std::string big = (dir.path() / "big").string();
  std::ofstream(big) << std::string(1001, 'x');
  const std::string url = "http://127.0.0.1:" + std::to_string(proxy.port()) + "/";
  for (const std::string protocol : {"--http1.1", "--http2-prior-knowledge"}) {
    CAPTURE(protocol);
    const std::string curl = "curl -sS -o /dev/null -w '%{http_code}' " + protocol + " ";
    CHECK(shell(curl + "--data-binary @" + big + " " + url).second == "413");
    // Without a length (chunked over HTTP/1.1, DATA frames over HTTP/2): refused mid-body.
    CHECK(shell(curl + "-H 'Transfer-Encoding: chunked' -H 'Content-Length:' --data-binary @" +
                big + " " + url)
              .second == "413");
  }
  const auto answered = [&proxy] {
    return proxy.upstream()
        .outcomes()[static_cast<std::size_t>(handoff::proxy::RequestOutcome::answered)];
  };
  CHECK(answered() == 0);
  CHECK(shell("curl -sS --http2-prior-knowledge -d small " + url).second == "ok");
  CHECK(answered() == 1);
}
