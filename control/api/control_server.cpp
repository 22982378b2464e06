#include "control/api/control_server.hpp"

#include <fmt/format.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json.hpp>

#include "control/api/event_stream.hpp"
#include "control/protocol/control_socket.hpp"
#include "proxy/nothrow.hpp"

namespace handoff::control {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(10);
// A streamed operation that has said nothing for this long writes an empty line, so that a
// client that left is noticed (the write fails) even while the operation is quiet.
constexpr auto kHeartbeat = std::chrono::seconds(2);
// How long operations asked to stop at shutdown get to wind up (remove what they started).
constexpr auto kWindUp = std::chrono::seconds(10);

std::string query_free(std::string_view target) {
  return std::string(target.substr(0, target.find('?')));
}

using UnixSocket = asio::local::stream_protocol::socket;

/// What every answer on a connection needs from its request.
struct Exchange {
  unsigned version;
  bool keep_alive;
};

// Reads the request of a peer that may not use the socket, then answers 403 and closes. (The
// request is read first, so that closing does not reset the connection and take the answer
// with it.)
asio::awaitable<void> refuse_peer(UnixSocket& socket) {
  beast::flat_buffer discard;
  http::request_parser<http::string_body> ignored;
  ignored.body_limit(64 * 1024);
  co_await http::async_read(socket, discard, ignored, nothrow);
  http::response<http::string_body> denied{http::status::forbidden, 11};
  denied.set(http::field::content_type, "application/json");
  denied.keep_alive(false);
  denied.body() = error_body("forbidden", "this user may not use the control socket");
  denied.prepare_payload();
  co_await http::async_write(socket, denied, nothrow);
  boost::system::error_code ec;
  socket.shutdown(UnixSocket::shutdown_send, ec);
}

// Answers a request that could not be read (408 or 400), unless the client simply left or
// never sent anything (`nothing_read`).
asio::awaitable<void> answer_read_error(UnixSocket& socket, boost::system::error_code ec,
                                        bool nothing_read) {
  const bool quiet = ec == http::error::end_of_stream || ec == asio::error::eof ||
                     ec == asio::error::connection_reset ||
                     (ec == asio::error::timed_out && nothing_read);
  if (quiet) {
    co_return;
  }
  const bool timeout = ec == asio::error::timed_out;
  const std::string why = timeout                         ? "the request did not arrive within 10 s"
                          : ec == http::error::body_limit ? "request body over 1 MiB"
                                                          : ec.message();
  http::response<http::string_body> bad{
      timeout ? http::status::request_timeout : http::status::bad_request, 11};
  bad.set(http::field::content_type, "application/json");
  bad.keep_alive(false);
  bad.body() = error_body(timeout ? "request_timeout" : "bad_request", why);
  bad.prepare_payload();
  co_await http::async_write(socket, bad, nothrow);
}

// Writes a complete answer; true when the connection goes on.
asio::awaitable<bool> answer(UnixSocket& socket, const Exchange& x, int status,
                             std::string_view content_type, std::string body) {
  http::response<http::string_body> res{static_cast<http::status>(status), x.version};
  res.set(http::field::content_type, content_type);
  res.keep_alive(x.keep_alive);
  res.body() = std::move(body);
  res.prepare_payload();
  auto [ec, n] = co_await http::async_write(socket, res, nothrow);
  co_return !ec && x.keep_alive;
}

// Relays an operation's events as they come, as a chunked NDJSON stream (with a heartbeat
// while it is quiet); true when the connection goes on.
asio::awaitable<bool> stream_events(UnixSocket& socket, const Exchange& x, EventStream& events) {
  http::response<http::empty_body> head{http::status::ok, x.version};
  head.set(http::field::content_type, "application/x-ndjson");
  head.keep_alive(x.keep_alive);
  head.chunked(true);
  http::response_serializer<http::empty_body> sr{head};
  auto [hec, hn] = co_await http::async_write_header(socket, sr, nothrow);
  bool writable = !hec;
  while (true) {
    EventStream::Batch batch = co_await events.next(kHeartbeat);
    if (batch.lines.empty()) {
      batch.lines.emplace_back("\n");
    }
    for (const std::string& line : batch.lines) {
      if (writable) {
        auto [cec, cn] =
            co_await asio::async_write(socket, http::make_chunk(asio::buffer(line)), nothrow);
        writable = !cec;
      }
    }
    if (!writable) {
      events.abandon();
    }
    if (batch.done) {
      break;
    }
  }
  if (!writable) {
    events.delivered();
    co_return false;  // the client left; a deploy still ran to its end
  }
  auto [lec, ln] = co_await asio::async_write(socket, http::make_chunk_last(), nothrow);
  events.delivered();
  co_return !lec && x.keep_alive;
}

// Waits for the operation to end and answers with its result and status alone.
asio::awaitable<bool> answer_when_done(UnixSocket& socket, const Exchange& x, EventStream& events) {
  std::string last;
  while (true) {
    EventStream::Batch batch = co_await events.next(std::chrono::hours(1));
    if (!batch.lines.empty()) {
      last = std::move(batch.lines.back());
    }
    if (batch.done) {
      break;
    }
  }
  const bool go_on =
      co_await answer(socket, x, events.status(), "application/json", std::move(last));
  events.delivered();
  co_return go_on;
}

// Runs a long operation on one of `runner`'s threads; its events come through the returned
// stream.
std::shared_ptr<EventStream> start_operation(Operation operation, asio::any_io_executor executor,
                                             OperationRunner& runner) {
  auto events = std::make_shared<EventStream>(std::move(executor));
  runner.run([op = std::move(operation), events](std::stop_token stop) {
    events->bind_stop(std::move(stop));
    OperationResult result;
    try {
      result = op(*events);
    } catch (const std::exception& e) {
      result = operation_error(ErrorKind::internal, "internal", e.what());
    }
    events->finish(std::move(result.result), result.failure ? http_status(*result.failure) : 200);
    events->wait_delivered(std::chrono::seconds(5));
  });
  return events;
}

}  // namespace

ControlServer::ControlServer(const std::string& path, const std::string& group, ControlApi& api,
                             bool staged)
    : file_(path, staged), api_(api), io_(1), acceptor_(bind_control_socket(io_, file_, group)) {
  if (!group.empty()) {
    group_ = ::getgrnam(group.c_str())->gr_gid;  // bind_control_socket checked that it exists
  }
}

// The socket's mode already limits who can connect; the peer's credentials are checked as well,
// so that a socket whose mode was loosened (or a directory shared too widely) does not open the
// API: root, this process's user, and members of the --control-group only.
bool ControlServer::peer_allowed(const Socket& socket) const {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(const_cast<Socket&>(socket).native_handle(), SOL_SOCKET, SO_PEERCRED, &cred,
                   &len) != 0) {
    return false;
  }
  if (cred.uid == 0 || cred.uid == ::geteuid()) {
    return true;
  }
  if (!group_) {
    return false;
  }
  if (cred.gid == *group_) {
    return true;
  }
  const passwd* pw = ::getpwuid(cred.uid);
  if (pw == nullptr) {
    return false;
  }
  int count = 64;
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  if (::getgrouplist(pw->pw_name, pw->pw_gid, groups.data(), &count) < 0) {
    return false;
  }
  groups.resize(static_cast<std::size_t>(count));
  return std::find(groups.begin(), groups.end(), *group_) != groups.end();
}

ControlServer::~ControlServer() {
  stop(std::chrono::milliseconds(0));
}

void ControlServer::start() {
  asio::co_spawn(io_, accept_loop(), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

void ControlServer::stop(std::chrono::milliseconds wait) {
  if (!thread_.joinable()) {
    return;
  }
  api_.shutting_down();
  asio::post(io_, [this] {
    boost::system::error_code ignored;
    acceptor_.close(ignored);
  });
  // Running operations get `wait` to end on their own; then they are asked to stop, which
  // ends their waits at once and has them wind up as after a failure (a deploy removes the
  // container it started), and the shutdown waits for that too.
  if (!operations_.wait_idle(wait)) {
    operations_.request_stop();
    operations_.wait_idle(kWindUp);
  }
  io_.stop();
  thread_.join();
  blocking_.stop();
  blocking_.join();
  file_.remove();  // unless a successor's socket replaced it
}

asio::awaitable<void> ControlServer::accept_loop() {
  while (acceptor_.is_open()) {
    auto [ec, socket] = co_await acceptor_.async_accept(nothrow);
    if (ec) {
      if (!acceptor_.is_open()) {
        break;
      }
      continue;
    }
    asio::co_spawn(io_, serve(std::move(socket)), asio::detached);
  }
}

// Reads one request, giving up after kRequestTimeout: a client that connects and sends
// nothing (or too little) must not hold a connection and its coroutine for ever.
asio::awaitable<std::tuple<boost::system::error_code, std::size_t>> ControlServer::read_request(
    Socket& socket, beast::flat_buffer& buffer, http::request_parser<http::string_body>& parser) {
  asio::steady_timer timer(io_, kRequestTimeout);
  auto result =
      co_await (http::async_read(socket, buffer, parser, nothrow) || timer.async_wait(nothrow));
  if (result.index() == 1) {
    co_return std::tuple{boost::system::error_code(asio::error::timed_out), std::size_t{0}};
  }
  co_return std::get<0>(result);
}

// Status and metrics are answered on this thread: they only read the registry. Everything else
// may call the container engine (a ping, a list) and so runs on the blocking pool, so that a
// hung engine never stalls `handoff status`.
asio::awaitable<ApiResponse> ControlServer::handle(const ApiRequest& request) {
  if (request.method == "GET" && (request.path == "/v1/status" || request.path == "/metrics")) {
    co_return api_.handle(request);
  }
  co_return co_await asio::co_spawn(
      blocking_,
      [this, &request]() -> asio::awaitable<ApiResponse> { co_return api_.handle(request); },
      asio::use_awaitable);
}

asio::awaitable<void> ControlServer::serve(Socket socket) {
  if (!peer_allowed(socket)) {
    co_await refuse_peer(socket);
    co_return;
  }
  beast::flat_buffer buffer;
  while (true) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(1024 * 1024);
    auto [ec, n] = co_await read_request(socket, buffer, parser);
    if (ec) {
      co_await answer_read_error(socket, ec, buffer.size() == 0 && !parser.got_some());
      co_return;
    }
    const auto& req = parser.get();
    const Exchange exchange{req.version(), req.keep_alive()};
    // Named, and passed by reference: it outlives the call, which the caller awaits.
    const ApiRequest api_request{std::string(req.method_string()), query_free(req.target()),
                                 req.body()};
    ApiResponse reply = co_await handle(api_request);
    bool go_on = false;
    if (!reply.operation) {
      go_on = co_await answer(socket, exchange, reply.status, reply.content_type,
                              std::move(reply.body));
    } else {
      auto events = start_operation(std::move(reply.operation), io_.get_executor(), operations_);
      const bool stream =
          req[http::field::accept].find("application/x-ndjson") != boost::string_view::npos;
      go_on = stream ? co_await stream_events(socket, exchange, *events)
                     : co_await answer_when_done(socket, exchange, *events);
    }
    if (!go_on) {
      co_return;
    }
  }
}

}  // namespace handoff::control
