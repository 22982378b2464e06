#include "control/daemon/metrics_listener.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <stdexcept>

#include "proxy/address.hpp"
#include "proxy/listening_socket.hpp"
#include "proxy/nothrow.hpp"

namespace handoff::control {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto kRequestTimeout = std::chrono::seconds(10);
}  // namespace

MetricsListener::MetricsListener(const tcp::endpoint& endpoint, std::function<std::string()> render)
    : render_(std::move(render)), acceptor_(io_) {
  boost::system::error_code ec;
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) {
    acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    acceptor_.bind(endpoint, ec);
  }
  if (!ec) {
    acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  }
  if (ec) {
    throw std::runtime_error(fmt::format("cannot listen for metrics on {}: {}",
                                         proxy::format_endpoint(endpoint), ec.message()));
  }
}

MetricsListener::MetricsListener(int fd, std::function<std::string()> render)
    : render_(std::move(render)), acceptor_(proxy::adopt_acceptor(io_, fd)) {}

MetricsListener::~MetricsListener() {
  io_.stop();
  if (thread_.joinable()) {
    thread_.join();
  }
}

void MetricsListener::start() {
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

tcp::endpoint MetricsListener::local_endpoint() const {
  return acceptor_.local_endpoint();
}

asio::awaitable<void> MetricsListener::accept_loop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
    if (!ec) {
      asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
    }
  }
}

namespace {

// Writes a complete answer and ends the connection.
asio::awaitable<void> answer(tcp::socket& socket, http::status status,
                             std::string_view content_type, std::string body) {
  http::response<http::string_body> res{status, 11};
  res.keep_alive(false);
  res.set(http::field::content_type, content_type);
  res.body() = std::move(body);
  res.prepare_payload();
  co_await http::async_write(socket, res, nothrow);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace

// One request per connection: scrapers connect, ask once and go. A request that is malformed
// gets a 400 and one that stalls a 408, as from any HTTP server; a peer that sent nothing and
// left gets nothing.
asio::awaitable<void> MetricsListener::serve(tcp::socket socket) {
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(8 * 1024);
  asio::steady_timer timer(io_, kRequestTimeout);
  auto read =
      co_await (http::async_read(socket, buffer, parser, nothrow) || timer.async_wait(nothrow));
  if (read.index() == 1) {
    if (parser.got_some() || buffer.size() > 0) {
      co_await answer(socket, http::status::request_timeout, "text/plain",
                      "handoff: the request did not arrive within 10 s\n");
    }
    co_return;
  }
  if (const boost::system::error_code ec = std::get<0>(std::get<0>(read))) {
    const bool left = ec == http::error::end_of_stream || ec == asio::error::eof ||
                      ec == asio::error::connection_reset;
    if (!left) {
      co_await answer(socket, http::status::bad_request, "text/plain",
                      fmt::format("handoff: bad request: {}\n", ec.message()));
    }
    co_return;
  }
  const auto& req = parser.get();
  if (req.target() != "/metrics" && req.target().substr(0, 9) != "/metrics?") {
    co_await answer(socket, http::status::not_found, "text/plain",
                    "handoff: only /metrics is served here\n");
  } else if (req.method() != http::verb::get) {
    co_await answer(socket, http::status::method_not_allowed, "text/plain", "handoff: use GET\n");
  } else {
    co_await answer(socket, http::status::ok, "text/plain; version=0.0.4", render_());
  }
}

}  // namespace handoff::control
