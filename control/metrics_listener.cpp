#include "control/metrics_listener.hpp"

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

namespace handoff::control {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {
constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
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

// One request per connection: scrapers connect, ask once and go.
asio::awaitable<void> MetricsListener::serve(tcp::socket socket) {
  beast::flat_buffer buffer;
  http::request_parser<http::empty_body> parser;
  parser.header_limit(8 * 1024);
  asio::steady_timer timer(io_, kRequestTimeout);
  auto read =
      co_await (http::async_read(socket, buffer, parser, nothrow) || timer.async_wait(nothrow));
  if (read.index() == 1 || std::get<0>(std::get<0>(read))) {
    co_return;  // timed out or malformed: nothing to answer
  }
  const auto& req = parser.get();
  http::response<http::string_body> res;
  res.version(11);
  res.keep_alive(false);
  if (req.target() != "/metrics" && req.target().substr(0, 9) != "/metrics?") {
    res.result(http::status::not_found);
    res.set(http::field::content_type, "text/plain");
    res.body() = "handoff: only /metrics is served here\n";
  } else if (req.method() != http::verb::get) {
    res.result(http::status::method_not_allowed);
    res.set(http::field::content_type, "text/plain");
    res.body() = "handoff: use GET\n";
  } else {
    res.result(http::status::ok);
    res.set(http::field::content_type, "text/plain; version=0.0.4");
    res.body() = render_();
  }
  res.prepare_payload();
  co_await http::async_write(socket, res, nothrow);
  boost::system::error_code ignored;
  socket.shutdown(tcp::socket::shutdown_send, ignored);
}

}  // namespace handoff::control
