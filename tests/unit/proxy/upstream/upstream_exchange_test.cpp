// The upstream exchange on its own, through a scripted client side and a real loopback
// upstream: what it sends upstream, what it hands the client side, and what becomes of the
// upstream connection.
#include "proxy/upstream/upstream_exchange.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <optional>
#include <string>
#include <vector>

#include "proxy/routing/router.hpp"
#include "proxy/upstream/upstream.hpp"
#include "proxy/worker.hpp"

using namespace handoff::proxy;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

/// A client side that supplies a scripted body and records what the exchange hands it.
class ScriptedClient final : public ClientSide {
 public:
  std::vector<std::string> body;  // the first piece comes with the head; the rest one by one
  std::vector<std::string> interim;
  int status = 0;
  std::string response_body;
  std::string tunnel_bytes;
  int replied = 0;
  bool connect_error = false;
  bool ended = false;
  std::size_t sent_pieces = 0;
  Upstream* other_member = nullptr;  // what `rebind` moves the request to (once)
  int rebinds = 0;

  BodyPiece first_body() override { return piece(0); }
  asio::awaitable<BodyRead> next_body() override {
    co_return BodyRead{true, piece(++next_), Outcome::close};
  }
  void body_sent(const BodyPiece&) override { ++sent_pieces; }
  asio::awaitable<bool> send_interim(const MessageHead& response) override {
    interim.push_back(std::to_string(response.status));
    co_return true;
  }
  ChunkedOutput begin_response(const MessageHead& response) override {
    status = response.status;
    return ChunkedOutput::reframe;
  }
  asio::awaitable<bool> send_body(std::string_view bytes) override {
    response_body.append(bytes);
    co_return true;
  }
  Outcome end_response() override {
    ended = true;
    return Outcome::keep_alive;
  }
  asio::awaitable<Outcome> reply(int code, std::string_view, bool) override {
    replied = code;
    co_return Outcome::close;
  }
  asio::awaitable<Outcome> reply_busy(std::string_view, bool) override {
    replied = 503;
    co_return Outcome::close;
  }
  asio::awaitable<Outcome> switch_protocols(const MessageHead& response, tcp::socket&,
                                            Buffer& upstream_bytes) override {
    status = response.status;
    tunnel_bytes = upstream_bytes.view();
    co_return Outcome::close;
  }
  tcp::socket* splice_target() override { return nullptr; }
  void spliced(std::size_t) override {}
  Upstream* rebind() override {
    ++rebinds;
    return std::exchange(other_member, nullptr);
  }
  void connect_failed() override { connect_error = true; }
  void cut(std::string_view) override {}
  [[nodiscard]] bool persistent() const override { return true; }

 private:
  BodyPiece piece(std::size_t i) const {
    if (i >= body.size()) {
      return {{}, 0, true};
    }
    return {body[i], body[i].size(), i + 1 == body.size()};
  }
  std::size_t next_ = 0;
};

/// One worker's event loop, run on the test's thread, with an upstream that reads one request
/// (head, then `body_bytes` more) and answers with `answer`.
struct Bench {
  ProxyConfig config;
  Router router{1};
  ConnectionCount connections;
  TlsContext tls;
  AcmeChallenges challenges;
  Worker worker{0, config, router, connections, tls, challenges};
  tcp::acceptor acceptor{worker.io(), tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  std::shared_ptr<Upstream> upstream =
      std::make_shared<Upstream>("upstream", acceptor.local_endpoint(), 1);
  std::string received;  // what reached the upstream
  std::optional<tcp::socket> held;

  void serve(std::string answer, std::size_t body_bytes) {
    asio::co_spawn(
        worker.io(),
        [this, answer = std::move(answer), body_bytes]() -> asio::awaitable<void> {
          tcp::socket s = co_await acceptor.async_accept(asio::use_awaitable);
          const std::size_t head = co_await asio::async_read_until(
              s, asio::dynamic_buffer(received), "\r\n\r\n", asio::use_awaitable);
          while (received.size() < head + body_bytes) {
            char more[256];
            received.append(more,
                            co_await s.async_read_some(asio::buffer(more), asio::use_awaitable));
          }
          co_await asio::async_write(s, asio::buffer(answer), asio::use_awaitable);
          held = std::move(s);  // open, so that a pooled connection stays clean
        },
        asio::detached);
  }

  /// Runs one exchange for `request` to its end; what the client side saw is in `client`.
  Outcome run(std::string_view request, ScriptedClient& client) {
    MessageHead head;
    MessageHead response;
    REQUIRE(parse_request_head(request, 8192, head).state == ParseStatus::complete);
    const std::string forwarded(request);
    SessionHandle handle;
    Buffer bytes(worker.upstream_buffers());
    Outcome outcome = Outcome::close;
    asio::co_spawn(
        worker.io(),
        [&]() -> asio::awaitable<void> {
          UpstreamExchange exchange(worker, handle, client, head, forwarded, response, bytes);
          outcome = co_await exchange.run(*upstream);
          acceptor.close();
        },
        asio::detached);
    worker.io().run_for(std::chrono::seconds(5));
    return outcome;
  }
};

/// An upstream at a loopback port nobody listens on (bound, then closed): connects are refused.
std::shared_ptr<Upstream> refusing_upstream(asio::io_context& io) {
  tcp::acceptor probe{io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)};
  const tcp::endpoint where = probe.local_endpoint();
  probe.close();
  return std::make_shared<Upstream>("refusing", where, 1);
}

constexpr std::string_view kPost =
    "POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n";

}  // namespace

TEST_CASE("the exchange sends the head and each body piece, and hands over 1xx, head and body") {
  Bench bench;
  bench.serve(
      "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
      12);
  ScriptedClient client;
  client.body = {"2\r\nab\r\n", "2\r\ncd\r\n0\r\n\r\n"};
  CHECK(bench.run(kPost, client) == Outcome::keep_alive);
  CHECK(bench.received == std::string(kPost) + "2\r\nab\r\n2\r\ncd\r\n0\r\n\r\n");
  CHECK(client.sent_pieces == 2);
  CHECK(client.interim == std::vector<std::string>{"103"});
  CHECK(client.status == 200);
  CHECK(client.response_body == "hello");
  CHECK(client.ended);
  CHECK(bench.worker.pool().take(bench.upstream->id()).has_value());  // clean: kept for reuse
}

TEST_CASE("bytes after the response never reach the client side, and the connection is dropped") {
  Bench bench;
  bench.serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n\r\n", 0);
  ScriptedClient client;
  CHECK(bench.run("GET / HTTP/1.1\r\nHost: a\r\n\r\n", client) == Outcome::keep_alive);
  CHECK(client.response_body == "ok");
  CHECK_FALSE(bench.worker.pool().take(bench.upstream->id()).has_value());
}

TEST_CASE("a 101 hands the client side the upstream and the bytes that followed the head") {
  Bench bench;
  bench.serve(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
      "Connection: upgrade\r\n\r\nframe",
      0);
  ScriptedClient client;
  CHECK(bench.run("GET /ws HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: websocket"
                  "\r\n\r\n",
                  client) == Outcome::close);
  CHECK(client.status == 101);
  CHECK(client.tunnel_bytes == "frame");
}

TEST_CASE("a 101 the client did not ask for is a 502") {
  Bench bench;
  bench.serve("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", 0);
  ScriptedClient client;
  bench.run("GET / HTTP/1.1\r\nHost: a\r\n\r\n", client);
  CHECK(client.replied == 502);
  CHECK(client.tunnel_bytes.empty());
}

TEST_CASE("a refused connection is a connect failure answered 502 through the client side") {
  Bench bench;
  bench.acceptor.close();  // nothing listens on the upstream's port any more
  ScriptedClient client;
  CHECK(bench.run("GET / HTTP/1.1\r\nHost: a\r\n\r\n", client) == Outcome::close);
  CHECK(client.connect_error);
  CHECK(client.replied == 502);
}

TEST_CASE("a refused connect moves the request once to another member, which answers it") {
  Bench bench;
  bench.serve("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", 0);
  auto gone = refusing_upstream(bench.worker.io());
  ScriptedClient client;
  client.other_member = bench.upstream.get();
  std::swap(bench.upstream, gone);  // the exchange starts on the member that refuses
  CHECK(bench.run("GET / HTTP/1.1\r\nHost: a\r\n\r\n", client) == Outcome::keep_alive);
  CHECK(client.rebinds == 1);
  CHECK(client.status == 200);
  CHECK_FALSE(client.connect_error);
  CHECK(bench.upstream->connect_errors() == 1);
  CHECK(bench.upstream->ejection() == Ejection::connect_error);
}

TEST_CASE("a refused connect with no other member is a 502 and counts as a connect error") {
  Bench bench;
  bench.upstream = refusing_upstream(bench.worker.io());
  ScriptedClient client;
  bench.run("GET / HTTP/1.1\r\nHost: a\r\n\r\n", client);
  CHECK(client.rebinds == 1);
  CHECK(client.replied == 502);
  CHECK(client.connect_error);
}
