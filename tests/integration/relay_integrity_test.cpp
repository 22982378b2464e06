// The relay never mixes up requests: what reaches the backend for one client request is exactly
// that request re-framed, nothing before it and nothing after it, and what a client gets is the
// answer to its own request. Every case is also replayed with its input split at every byte
// boundary (two reads, and three), and must forward the same bytes and answer the same.
#include <doctest/doctest.h>

#include <atomic>
#include <thread>

#include "tests/support/proxy_under_test.hpp"
#include "tests/support/recording_backend.hpp"
#include "tests/support/socket_client.hpp"

using namespace handoff::test;
using namespace std::chrono_literals;

namespace {

/// What one client exchange produced on both sides.
struct Outcome {
  std::string forwarded;  ///< bytes the backend received during the exchange
  std::string answers;    ///< what the client got: status, head and body of each response
  bool operator==(const Outcome&) const = default;
};

std::string describe(const Response& r) {
  return std::to_string(r.status) + "\n" + r.head + "\n" + r.body + "\n";
}

/// Sends `pieces` on a new connection with a pause between them (so the proxy reads them
/// separately), then reads `responses` responses.
Outcome exchange(std::uint16_t port, const RecordingBackend& backend,
                 const std::vector<std::string>& pieces, int responses,
                 std::string_view method = "GET") {
  const std::size_t before = backend.received().size();
  SocketClient client(port, 5s);
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    if (i > 0) {
      std::this_thread::sleep_for(2ms);
    }
    client.send(pieces[i]);
  }
  Outcome out;
  for (int i = 0; i < responses; ++i) {
    out.answers += describe(client.read_response(method));
  }
  out.forwarded = backend.received().substr(before);
  return out;
}

/// Cuts `bytes` at the given offsets.
std::vector<std::string> cut(std::string_view bytes, std::vector<std::size_t> at) {
  std::vector<std::string> pieces;
  std::size_t from = 0;
  for (std::size_t to : at) {
    pieces.emplace_back(bytes.substr(from, to - from));
    from = to;
  }
  pieces.emplace_back(bytes.substr(from));
  return pieces;
}

/// The backend's answer: which request it saw, so that an answer given to the wrong client
/// shows.
RecordingBackend::Answer echo_target(const ParsedRequest& r) {
  return RecordingBackend::ok("for " + r.method + " " + r.target + " body=" + r.body);
}

/// Checks the forwarded-bytes invariant: the backend's bytes parse as exactly `count` requests,
/// with nothing before, between or after them.
void check_exactly_reframed(const std::string& forwarded, std::size_t count) {
  std::string leftover;
  std::string error;
  auto requests = parse_requests(forwarded, leftover, error);
  CHECK_MESSAGE(error.empty(), error);
  CHECK_MESSAGE(leftover.empty(), "bytes after the forwarded request: ", leftover);
  CHECK(requests.size() == count);
}

/// Replays `request` whole, then split in two at every byte boundary and in three at a spread
/// of pairs; each replay must forward the same bytes and get the same answers.
void replay_at_every_boundary(const std::string& request, int responses, std::size_t requests,
                              std::string_view method = "GET") {
  RecordingBackend backend(echo_target);
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  const Outcome whole = exchange(proxy.port(), backend, {request}, responses, method);
  REQUIRE(whole.answers.find("\n\n") != std::string::npos);
  check_exactly_reframed(whole.forwarded, requests);
  for (std::size_t i = 1; i < request.size(); ++i) {
    const Outcome two = exchange(proxy.port(), backend, cut(request, {i}), responses, method);
    CHECK_MESSAGE(two == whole, "split at ", i, ":\n", two.forwarded, "\n---\n", two.answers);
  }
  for (std::size_t i = 1; i + 1 < request.size(); i += 5) {
    const std::size_t j = i + 1 + (request.size() - i) / 2;
    const Outcome three = exchange(proxy.port(), backend, cut(request, {i, j}), responses, method);
    CHECK_MESSAGE(three == whole, "split at ", i, " and ", j);
  }
}

}  // namespace

// Defect 1: a Content-Length body that does not arrive with its head was never completed.
TEST_CASE("a Content-Length body whose rest arrives in a later read is relayed at once") {
  RecordingBackend backend(echo_target);
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  SocketClient client(proxy.port(), 3s);
  client.send("POST /split HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234567");
  std::this_thread::sleep_for(300ms);
  client.send("89");
  const Response r = client.read_response();
  CHECK(r.status == 200);
  CHECK(r.body == "for POST /split body=0123456789");
  check_exactly_reframed(backend.received(), 1);
}

// Python's http.client writes a large POST's head and the start of its body together.
TEST_CASE("a 17,000-byte POST sent as head plus part of the body, then the rest, completes") {
  RecordingBackend backend(
      [](const ParsedRequest& r) { return RecordingBackend::ok(std::to_string(r.body.size())); });
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  const std::string body(17'000, 'b');
  const std::string request =
      "POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 17000\r\n\r\n" + body;
  const Outcome out = exchange(proxy.port(), backend, cut(request, {8192}), 1, "POST");
  CHECK(out.answers.find("\n17000\n") != std::string::npos);
  check_exactly_reframed(out.forwarded, 1);
}

// Defect 2: the same bug let the tail of one client's body become a request of its own.
TEST_CASE("a body split across reads cannot smuggle a request to another client") {
  RecordingBackend backend(echo_target);
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  SocketClient attacker(proxy.port(), 3s);
  attacker.send("POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 86\r\n\r\n" + std::string(43, 'a'));
  std::this_thread::sleep_for(50ms);
  attacker.send(std::string(43, 'b') + "GET /smuggled HTTP/1.1\r\nHost: x\r\nX-Ignore: ");
  const Response first = attacker.read_response();
  CHECK(first.status == 200);
  CHECK(first.body == "for POST /a body=" + std::string(43, 'a') + std::string(43, 'b'));
  // A victim on a new connection gets the answer to its own request, through the pooled
  // upstream connection the attacker's request used.
  SocketClient victim(proxy.port(), 3s);
  victim.send("GET /victim HTTP/1.1\r\nHost: x\r\n\r\n");
  const Response answer = victim.read_response();
  CHECK(answer.body == "for GET /victim body=");
  for (const ParsedRequest& seen : backend.requests()) {
    CHECK(seen.target != "/smuggled");
  }
  CHECK(backend.connections() == 1);
}

// Defect 3: bytes after a complete upstream response were served as the next answer.
TEST_CASE("bytes after a complete upstream response never reach any client") {
  const std::string poison = "HTTP/1.1 200 OK\r\nX-Poison: 1\r\nContent-Length: 7\r\n\r\npoison!";
  RecordingBackend backend([&](const ParsedRequest& r) {
    if (r.target == "/extra") {
      return RecordingBackend::Answer{
          {"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" + poison}, false};
    }
    if (r.target == "/late") {  // the stray bytes arrive after the proxy pooled the connection
      return RecordingBackend::Answer{{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", poison},
                                      false};
    }
    if (r.method == "HEAD" || r.target == "/304") {  // a body where none may be
      return RecordingBackend::Answer{
          {(r.target == "/304" ? "HTTP/1.1 304 Not Modified\r\n" : "HTTP/1.1 200 OK\r\n") +
           std::string("Content-Length: 5\r\n\r\nhello") + poison},
          false};
    }
    return echo_target(r);
  });
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  for (std::string target : {"/extra", "/late", "/304", "/head"}) {
    CAPTURE(target);
    const std::string method = target == "/head" ? "HEAD" : "GET";
    SocketClient client(proxy.port(), 3s);
    client.send(method + " " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const Response first = client.read_response(method);
    CHECK(first.header("x-poison").empty());
    std::this_thread::sleep_for(20ms);
    // The same client's next request, and another client's, get their own answers.
    client.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    const Response next = client.read_response();
    CHECK(next.header("x-poison").empty());
    CHECK(next.body == "for GET /next body=");
    SocketClient other(proxy.port(), 3s);
    other.send("GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    const Response theirs = other.read_response();
    CHECK(theirs.header("x-poison").empty());
    CHECK(theirs.body == "for GET /other body=");
  }
}

// Defect 4: trailer fields were forwarded unchecked.
TEST_CASE("a request line hidden in a chunked trailer section is refused, never forwarded") {
  RecordingBackend backend(echo_target);
  ProxyUnderTest proxy(backend.address());
  for (std::string trailer :
       {"GET /smuggled HTTP/1.1\r\nHost: x\r\n", "nocolon\r\n", "A : 1\r\n"}) {
    CAPTURE(trailer);
    const Response r = request_once(
        proxy.port(),
        "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n" +
            trailer + "\r\n");
    CHECK(r.status == 400);
  }
  CHECK(backend.received().find("smuggled") == std::string::npos);
  CHECK(backend.requests().empty());
}

// Defect 5: invalid chunk extensions passed unchanged.
TEST_CASE("invalid chunk extensions get 400, and valid ones are checked and not forwarded") {
  RecordingBackend backend(echo_target);
  ProxyUnderTest proxy(backend.address());
  for (std::string size_line : {"5;a=\"bc", "5;=x", "2;"}) {
    CAPTURE(size_line);
    const Response r = request_once(
        proxy.port(), "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          size_line + "\r\nhello\r\n0\r\n\r\n");
    CHECK(r.status == 400);
  }
  CHECK(backend.requests().empty());
  const Response ok = request_once(proxy.port(),
                                   "POST /c HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                                   "chunked\r\n\r\n5;a=\"b;c\"\r\nhello\r\n0\r\n\r\n");
  CHECK(ok.status == 200);
  CHECK(backend.received().find(";a=") == std::string::npos);
}

// Defect 6: an absolute-form target was forwarded as-is beside a different Host.
TEST_CASE("an absolute-form target is routed by its authority and forwarded in origin-form") {
  RecordingBackend backend(echo_target);
  ProxyUnderTest proxy(backend.address());
  const Response r = request_once(
      proxy.port(), "GET http://abs.example/abs?q=1 HTTP/1.1\r\nHost: other.example\r\n\r\n");
  CHECK(r.status == 200);
  auto seen = backend.requests();
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].target == "/abs?q=1");
  CHECK(seen[0].host == "abs.example");
  CHECK(backend.received().find("other.example") == std::string::npos);
  request_once(proxy.port(), "GET http://abs.example?q HTTP/1.1\r\nHost: abs.example\r\n\r\n");
  REQUIRE(backend.requests().size() == 2);
  CHECK(backend.requests()[1].target == "/?q");
}

// Defect 7: invalid Host values were forwarded; bare-LF heads waited for the header timeout.
TEST_CASE("invalid Host syntax and bare-LF heads get 400 at once") {
  RecordingBackend backend(echo_target);
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.client_header_timeout = 10s; });
  for (std::string request :
       {"GET / HTTP/1.1\r\nHost: x/evil\r\n\r\n", "GET / HTTP/1.1\r\nHost: x, y\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", "GET / HTTP/1.1\r\nHost: u@x\r\n\r\n",
        "GET / HTTP/1.1\r\nHost: x:8a\r\n\r\n", "GET http://u@x/ HTTP/1.1\r\nHost: x\r\n\r\n",
        "GET / HTTP/1.1\nHost: x\n\n", "GET / HTTP/1.1\r\nHost: x\n\n"}) {
    CAPTURE(request);
    const auto start = std::chrono::steady_clock::now();
    CHECK(request_once(proxy.port(), request).status == 400);
    CHECK(std::chrono::steady_clock::now() - start < 2s);
  }
  CHECK(backend.requests().empty());
  for (std::string host : {"x", "x:8080", "[::1]:80", "a-b.example", "127.0.0.1"}) {
    CHECK(request_once(proxy.port(), "GET / HTTP/1.1\r\nHost: " + host + "\r\n\r\n").status == 200);
  }
}

TEST_CASE("requests split at every byte boundary forward the same bytes and get the same answer") {
  const std::string id = "X-Request-Id: fixed\r\n";
  SUBCASE("GET") {
    replay_at_every_boundary("GET /plain?a=1 HTTP/1.1\r\nHost: x\r\n" + id + "\r\n", 1, 1);
  }
  SUBCASE("Content-Length body") {
    replay_at_every_boundary(
        "POST /form HTTP/1.1\r\nHost: x\r\n" + id + "Content-Length: 11\r\n\r\nhello world", 1, 1);
  }
  SUBCASE("chunked body with an extension and trailers") {
    replay_at_every_boundary("PUT /chunks HTTP/1.1\r\nHost: x\r\n" + id +
                                 "Transfer-Encoding: chunked\r\n\r\n5;e=\"v\"\r\nhello\r\n1\r\n!"
                                 "\r\n0\r\nX-Sum: 6\r\n\r\n",
                             1, 1);
  }
  SUBCASE("pipelined requests") {
    replay_at_every_boundary(
        "GET /1 HTTP/1.1\r\nHost: x\r\n" + id + "\r\nPOST /2 HTTP/1.1\r\nHost: x\r\n" + id +
            "Content-Length: 3\r\n\r\nabcGET /3 HTTP/1.1\r\nHost: x\r\n" + id + "\r\n",
        3, 3);
  }
  SUBCASE("absolute-form and hop-by-hop fields") {
    replay_at_every_boundary(
        "GET http://x/abs HTTP/1.1\r\nHost: y\r\n" + id + "Connection: X-Hop\r\nX-Hop: 1\r\n\r\n",
        1, 1);
  }
  SUBCASE("HTTP/1.0") {
    replay_at_every_boundary("GET /old HTTP/1.0\r\n" + id + "\r\n", 1, 1);
  }
}

TEST_CASE("responses split at every byte boundary reach the client the same") {
  struct Case {
    std::string name;
    std::string response;
    bool close;
    std::string method;
  };
  const std::vector<Case> cases = {
      {"Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello", false,
       "GET"},
      {"chunked with trailers",
       "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: "
       "1\r\n\r\n",
       false, "GET"},
      {"interim 100 then 204", "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
       false, "GET"},
      {"close-delimited", "HTTP/1.1 200 OK\r\n\r\nuntil close", true, "GET"},
      {"HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n", false, "HEAD"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    std::atomic<std::size_t> split = 0;  // read on the backend's thread
    RecordingBackend backend([&](const ParsedRequest&) {
      if (split == 0) {
        return RecordingBackend::Answer{{c.response}, c.close};
      }
      return RecordingBackend::Answer{cut(c.response, {split.load()}), c.close};
    });
    ProxyUnderTest proxy(backend.address(), [](auto& cfg) { cfg.threads = 1; });
    const std::string request = c.method + " / HTTP/1.1\r\nHost: x\r\nX-Request-Id: r\r\n\r\n";
    const Outcome whole = exchange(proxy.port(), backend, {request}, 1, c.method);
    REQUIRE(whole.answers.rfind("0\n", 0) != 0);
    for (split = 1; split < c.response.size(); ++split) {
      const Outcome two = exchange(proxy.port(), backend, {request}, 1, c.method);
      CHECK_MESSAGE(two.answers == whole.answers, "split at ", split, ":\n", two.answers);
      // A connection still in step is reused; none carries bytes into the next exchange.
      check_exactly_reframed(two.forwarded, 1);
    }
  }
}

// Large Content-Length bodies go to a plain client by splice(2), past the read buffer: the
// same guarantees must hold there. Exactly the announced bytes pass, in order; bytes after
// them never reach a client; a body cut short cuts the client connection.
TEST_CASE("a large body moved by splice is exact, alone, and cut when the upstream stops") {
  constexpr std::size_t kBig = 3 * 1024 * 1024 + 17;
  std::string body(kBig, '\0');
  for (std::size_t i = 0; i < kBig; ++i) {
    body[i] = static_cast<char>('a' + (i * 31 + i / 4096) % 26);
  }
  const std::string head =
      "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(kBig) + "\r\n\r\n";
  const std::string poison = "HTTP/1.1 200 OK\r\nX-Poison: 1\r\nContent-Length: 7\r\n\r\npoison!";
  RecordingBackend backend([&](const ParsedRequest& r) {
    if (r.target == "/big") {  // in pieces, so that the proxy waits for the upstream mid-body
      return RecordingBackend::Answer{
          {head + body.substr(0, 1000), body.substr(1000, 200000), body.substr(201000)}, false};
    }
    if (r.target == "/big-extra") {
      return RecordingBackend::Answer{{head + body + poison}, false};
    }
    if (r.target == "/big-short") {
      return RecordingBackend::Answer{{head + body.substr(0, kBig / 2)}, true};
    }
    return echo_target(r);
  });
  ProxyUnderTest proxy(backend.address(), [](auto& c) { c.threads = 1; });
  for (std::string target : {"/big", "/big-extra"}) {
    CAPTURE(target);
    SocketClient client(proxy.port(), 10s);
    client.send("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n");
    const Response big = client.read_response();
    CHECK(big.status == 200);
    CHECK(big.body.size() == kBig);
    const bool exact = big.body == body;
    CHECK(exact);
    std::this_thread::sleep_for(20ms);
    client.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n");
    const Response next = client.read_response();
    CHECK(next.header("x-poison").empty());
    CHECK(next.body == "for GET /next body=");
    SocketClient other(proxy.port(), 3s);
    other.send("GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
    CHECK(other.read_response().body == "for GET /other body=");
  }
  SocketClient cut(proxy.port(), 10s);
  cut.send("GET /big-short HTTP/1.1\r\nHost: x\r\n\r\n");
  const std::string got = cut.read_until_close();
  const std::size_t body_at = got.find("\r\n\r\n");
  REQUIRE(body_at != std::string::npos);
  // All the upstream sent, then the connection closed.
  CHECK(got.size() - body_at - 4 == kBig / 2);
  const bool exact = got.compare(body_at + 4, std::string::npos, body, 0, kBig / 2) == 0;
  CHECK(exact);
}
