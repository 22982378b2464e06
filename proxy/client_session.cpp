#include "proxy/client_session.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <string>
#include <tuple>

#include "proxy/access_log.hpp"
#include "proxy/chunked_scanner.hpp"
#include "proxy/forward_headers.hpp"
#include "proxy/http_head.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr auto nothrow = asio::as_tuple(asio::use_awaitable);
constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

/// Per-request working state. It is large (two parsed heads), so connections borrow one from
/// their worker while a request is active instead of holding one while idle.
struct Exchange {
  MessageHead request;
  MessageHead response;
  std::string out;        // a head being sent, upstream or to the client
  std::string dechunked;  // response data for HTTP/1.0 clients, without chunked framing
  // Copied for the access log, since the request head's bytes are gone by the time it is written.
  std::string method, target, host, request_id;
};

/// Per-worker free list of Exchange objects.
thread_local std::vector<std::unique_ptr<Exchange>> free_exchanges;

std::unique_ptr<Exchange> borrow_exchange() {
  if (free_exchanges.empty()) {
    return std::make_unique<Exchange>();
  }
  auto x = std::move(free_exchanges.back());
  free_exchanges.pop_back();
  return x;
}

void return_exchange(std::unique_ptr<Exchange> x) {
  if (x && free_exchanges.size() < 1024) {
    free_exchanges.push_back(std::move(x));
  }
}

/// How an exchange with the upstream ended, from the client connection's point of view.
enum class Outcome { keep_alive, close };

class ClientSession {
 public:
  ClientSession(Worker& worker, tcp::socket socket)
      : worker_(worker),
        client_(std::move(socket)),
        in_(worker.client_buffers()),
        up_(worker.upstream_buffers()) {
    handle_.client = &client_;
    boost::system::error_code ec;
    auto remote = client_.remote_endpoint(ec);
    client_ip_ = ec ? "unknown" : remote.address().to_string();
    worker_.attach(handle_);
  }

  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  ~ClientSession() {
    return_exchange(std::move(x_));
    worker_.detach(handle_);
  }

  asio::awaitable<void> run() {
    while (co_await serve_one() == Outcome::keep_alive) {
    }
    boost::system::error_code ec;
    client_.shutdown(tcp::socket::shutdown_send, ec);
    if (!ec && !handle_.killed) {
      co_await linger();
    }
    client_.close(ec);
  }

 private:
  void arm(Millis timeout) {
    handle_.deadline = worker_.deadline_after(timeout);
    handle_.timed_out = false;
  }
  void disarm() { handle_.deadline = Clock::time_point::max(); }
  [[nodiscard]] bool timed_out() const { return handle_.timed_out; }
  [[nodiscard]] const ProxyConfig& config() const { return worker_.config(); }

  asio::awaitable<Outcome> serve_one();
  asio::awaitable<void> linger();
  asio::awaitable<Outcome> forward(Service& service, InFlight flight, std::size_t head_bytes);
  asio::awaitable<Outcome> relay_response(tcp::socket& upstream, bool& upstream_reusable);
  asio::awaitable<void> tunnel(tcp::socket& upstream);
  asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, Buffer& buffer);
  // Callers build the text in a named variable first: GCC 12 destroys some temporaries in a
  // co_await expression twice (a conditional between a literal and a std::string).
  asio::awaitable<Outcome> reply(int status, std::string_view text, bool close);
  asio::awaitable<bool> write_client(std::string_view a, std::string_view b = {});
  /// Counts the finished request on its service and writes its access log line.
  void finish();
  asio::awaitable<bool> wait_while_paused(Service& service);

  Worker& worker_;
  tcp::socket client_;
  SessionHandle handle_;
  Buffer in_;  // bytes from the client
  Buffer up_;  // bytes from the upstream, during an exchange
  std::string client_ip_;
  std::unique_ptr<Exchange> x_;
  Service* service_ = nullptr;             // the current request's service, once routed
  std::shared_ptr<Service> held_service_;  // set while a request waits out a pause
  const Upstream* upstream_ = nullptr;     // and its upstream, once bound
  int status_ = 0;
  std::uint64_t response_bytes_ = 0;
  Clock::time_point started_;
};

// Closing a socket with unread input makes the kernel send a reset, which can destroy the
// answer just written (a 400 or 413 sent before the request was read to its end). So the proxy
// half-closes, then reads and drops what the client still sends, for a bounded time and amount,
// before it closes (what nginx calls a lingering close).
asio::awaitable<void> ClientSession::linger() {
  constexpr std::size_t kMaxLingerBytes = 1 << 20;
  arm(std::chrono::seconds(2));
  std::size_t dropped = 0;
  while (dropped < kMaxLingerBytes) {
    auto [ec, n] = co_await client_.async_read_some(in_.prepare(), nothrow);
    if (ec || timed_out() || handle_.killed) {
      break;
    }
    in_.commit(n);
    in_.consume(in_.size());
    dropped += n;
  }
  in_.release();
}

asio::awaitable<Outcome> ClientSession::serve_one() {
  if (in_.empty()) {
    if (worker_.stopping()) {
      co_return Outcome::close;
    }
    handle_.idle = true;
    handle_.idle_since = worker_.coarse_now();
    arm(config().client_idle_timeout);
    auto [ec, n] = co_await client_.async_read_some(in_.prepare(), nothrow);
    if (ec == asio::error::operation_aborted && handle_.parked && !timed_out() && !handle_.killed) {
      // Idle for a while: hold no buffer and no exchange state until the client sends more.
      return_exchange(std::move(x_));
      in_.release();
      std::tie(ec) = co_await client_.async_wait(tcp::socket::wait_read, nothrow);
      n = 0;
    }
    handle_.idle = false;
    handle_.parked = false;
    if (ec || timed_out() || handle_.killed) {
      co_return Outcome::close;
    }
    in_.commit(n);
  }
  if (!x_) {
    x_ = borrow_exchange();
  }
  Exchange& x = *x_;
  arm(config().client_header_timeout);
  ParseResult parsed;
  while (true) {
    if (!in_.empty()) {
      parsed = parse_request_head(in_.view(), config().max_header_bytes, x.request);
      if (parsed.state != ParseStatus::incomplete) {
        break;
      }
    }
    auto [ec, n] = co_await client_.async_read_some(in_.prepare(), nothrow);
    if (ec || timed_out() || handle_.killed) {
      if (timed_out() && !in_.empty()) {
        co_await reply(408, "handoff: timed out reading the request header", true);
      }
      co_return Outcome::close;
    }
    in_.commit(n);
  }
  if (config().access_log) {
    started_ = Clock::now();
  }
  status_ = 0;
  response_bytes_ = 0;
  service_ = nullptr;
  upstream_ = nullptr;
  held_service_.reset();
  if (config().access_log) {
    const bool ok = parsed.state == ParseStatus::complete;
    x.method = ok ? x.request.method : std::string_view{};
    x.target = ok ? x.request.target : std::string_view{};
    x.host = ok ? x.request.host : std::string_view{};
    x.request_id.clear();
  }
  if (parsed.state == ParseStatus::error) {
    // Ambiguous or malformed: answer and close, never forward (RFC 9112 §11.2).
    const std::string message = fmt::format("handoff: {}", parsed.error);
    co_return co_await reply(parsed.error_status, message, true);
  }

  const bool has_body = x.request.body != BodyKind::none;
  if (config().max_body_bytes != 0 && x.request.body == BodyKind::length &&
      x.request.content_length > config().max_body_bytes) {
    co_return co_await reply(413, "handoff: request body over the limit", true);
  }
  Service* service = worker_.router().table_for(worker_.index()).find(x.request.host);
  if (service == nullptr) {
    in_.consume(has_body ? 0 : parsed.head_bytes);
    co_return co_await reply(404, "handoff: no service for this host", has_body);
  }
  service_ = service;
  if (service->paused() && !co_await wait_while_paused(*service)) {
    in_.consume(has_body ? 0 : parsed.head_bytes);
    co_return co_await reply(503, "handoff: the service is paused", has_body);
  }
  InFlight flight = service->acquire(worker_.index());
  if (!flight) {
    in_.consume(has_body ? 0 : parsed.head_bytes);
    co_return co_await reply(503, "handoff: the service has no upstream", has_body);
  }
  co_return co_await forward(*service, std::move(flight), parsed.head_bytes);
}

asio::awaitable<Outcome> ClientSession::forward(Service& service, InFlight flight,
                                                std::size_t head_bytes) {
  Exchange& x = *x_;
  Upstream& up = *flight.get();
  upstream_ = &up;
  const MessageHead& req = x.request;
  const bool is_head = req.method == "HEAD";
  const bool idempotent = is_idempotent(req.method);
  const bool upgrade = req.connection_upgrade && req.has_upgrade;
  const bool expect_continue = req.expect_continue && req.version_minor == 1;
  const int client_minor = req.version_minor;
  const bool client_keep_alive =
      client_minor == 1 ? !req.connection_close : req.connection_keep_alive;
  const BodyKind body = req.body;
  std::uint64_t remaining = req.content_length;

  x.out.clear();
  std::string_view request_id =
      build_upstream_request(req, {client_ip_, worker_.next_request_id()}, x.out);
  if (config().access_log) {
    x.request_id = request_id;
  }
  // The head's bytes may be overwritten from here on; only the copies above are used.
  in_.consume(head_bytes);

  // The body bytes that arrived with the head go out with it.
  ChunkedScanner chunks;
  std::uint64_t chunked_bytes = 0;  // chunk data seen, checked against --max-body
  auto count_body = [&chunked_bytes](const char*, std::size_t n) { chunked_bytes += n; };
  auto over_limit = [&] {
    return config().max_body_bytes != 0 && chunked_bytes > config().max_body_bytes;
  };
  std::size_t initial = 0;
  bool body_buffered = true;
  if (body == BodyKind::length) {
    initial = static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), remaining));
    body_buffered = initial == remaining;
  } else if (body == BodyKind::chunked) {
    initial = chunks.feed(in_.view(), count_body);
    if (chunks.failed()) {
      const std::string message = fmt::format("handoff: {}", chunks.error());
      co_return co_await reply(400, message, true);
    }
    if (over_limit()) {
      co_return co_await reply(413, "handoff: request body over the limit", true);
    }
    body_buffered = chunks.done();
  }

  struct UpstreamScope {  // the drain and timeout machinery sees the socket while it is in use
    SessionHandle& h;
    ~UpstreamScope() { h.upstream = nullptr; }
  } scope{handle_};

  tcp::socket sock(worker_.io());
  bool replay_ok = true;  // nothing was taken from the client beyond what is still buffered
  ParseResult parsed;
  for (int attempt = 0;; ++attempt) {
    bool reused = false;
    if (attempt == 0) {
      if (auto pooled = worker_.pool().take(up.id())) {
        sock = std::move(*pooled);
        reused = true;
      }
    }
    handle_.upstream = &sock;
    handle_.upstream_id = up.id();
    if (!reused) {
      sock = tcp::socket(worker_.io());
      arm(config().upstream_connect_timeout);
      auto [ec] = co_await sock.async_connect(up.endpoint(), nothrow);
      if (handle_.killed) {
        co_return Outcome::close;
      }
      if (ec || timed_out()) {
        service.count_connect_error(worker_.index());
        const bool timeout = timed_out();
        const std::string message =
            timeout ? std::string("handoff: timed out connecting to the upstream")
                    : fmt::format("handoff: cannot connect to the upstream: {}", ec.message());
        co_return co_await reply(timeout ? 504 : 502, message,
                                 !body_buffered || !client_keep_alive);
      }
      boost::system::error_code ignored;
      sock.set_option(tcp::no_delay(true), ignored);
    }

    // Send the head and the buffered part of the body in one write.
    arm(config().upstream_response_timeout);
    std::array<asio::const_buffer, 2> head_and_body{asio::buffer(x.out),
                                                    asio::buffer(in_.view().data(), initial)};
    auto [wec, wn] = co_await asio::async_write(sock, head_and_body, nothrow);
    if (handle_.killed) {
      co_return Outcome::close;
    }
    if (wec || timed_out()) {
      if (reused && !timed_out()) {
        continue;  // a stale pooled connection; nothing of this request was processed
      }
      co_return co_await reply(timed_out() ? 504 : 502, "handoff: cannot send to the upstream",
                               true);
    }

    if (!body_buffered) {
      // Stream the rest of the body; from here on the request cannot be replayed.
      replay_ok = false;
      if (expect_continue && initial == 0) {
        if (!co_await write_client(kContinue)) {
          co_return Outcome::close;
        }
      }
      in_.consume(initial);
      bool done = false;
      while (!done) {
        arm(config().client_io_timeout);
        auto [rec, n] = co_await client_.async_read_some(in_.prepare(), nothrow);
        if (rec || timed_out() || handle_.killed) {
          co_return Outcome::close;  // the client went away mid-body; nothing to answer
        }
        in_.commit(n);
        std::size_t take = 0;
        if (body == BodyKind::length) {
          take = static_cast<std::size_t>(std::min<std::uint64_t>(in_.size(), remaining));
          remaining -= take;
          done = remaining == 0;
        } else {
          take = chunks.feed(in_.view(), count_body);
          if (chunks.failed()) {
            const std::string message = fmt::format("handoff: {}", chunks.error());
            co_return co_await reply(400, message, true);
          }
          if (over_limit()) {
            // Part of the body went upstream; that connection is dropped with the request.
            co_return co_await reply(413, "handoff: request body over the limit", true);
          }
          done = chunks.done();
        }
        arm(config().upstream_response_timeout);
        auto [bec, bn] =
            co_await asio::async_write(sock, asio::buffer(in_.view().data(), take), nothrow);
        if (handle_.killed) {
          co_return Outcome::close;
        }
        if (bec || timed_out()) {
          co_return co_await reply(timed_out() ? 504 : 502,
                                   "handoff: the upstream stopped reading the request", true);
        }
        in_.consume(take);
      }
    }

    // Read the response head, passing interim 1xx responses on to the client.
    bool retry = false;
    bool got_bytes = false;
    while (true) {
      if (!up_.empty()) {
        parsed = parse_response_head(up_.view(), worker_.upstream_buffers().block_size(),
                                     is_head ? "HEAD" : "GET", x.response);
        if (parsed.state == ParseStatus::error) {
          up_.consume(up_.size());
          const std::string message = fmt::format("handoff: bad response: {}", parsed.error);
          co_return co_await reply(502, message, true);
        }
        if (parsed.state == ParseStatus::complete) {
          if (x.response.status >= 200 || x.response.status == 101) {
            break;
          }
          // RFC 9110 §15.2: interim responses go to HTTP/1.1 clients, never to HTTP/1.0 ones.
          if (client_minor == 1) {
            x.out.clear();
            build_client_response(x.response, {}, x.out);
            if (!co_await write_client(x.out)) {
              co_return Outcome::close;
            }
          }
          up_.consume(parsed.head_bytes);
          continue;
        }
      }
      arm(config().upstream_response_timeout);
      auto [rec, n] = co_await sock.async_read_some(up_.prepare(), nothrow);
      if (handle_.killed) {
        co_return Outcome::close;
      }
      if (rec || timed_out()) {
        if (!got_bytes && !timed_out() && reused && replay_ok && idempotent) {
          retry = true;  // the upstream had closed this pooled connection while it sat idle
          break;
        }
        up_.consume(up_.size());
        const bool timeout = timed_out();
        const std::string message =
            timeout ? std::string("handoff: timed out waiting for the upstream")
                    : fmt::format("handoff: the upstream closed the connection: {}",
                                  rec == asio::error::eof ? "end of stream" : rec.message());
        co_return co_await reply(timeout ? 504 : 502, message, !replay_ok || !client_keep_alive);
      }
      got_bytes = true;
      up_.commit(n);
    }
    if (retry) {
      boost::system::error_code ignored;
      sock.close(ignored);
      continue;
    }
    if (replay_ok) {
      in_.consume(initial);
    }
    break;
  }

  const MessageHead& resp = x.response;
  status_ = resp.status;
  if (resp.status == 101) {
    if (!upgrade) {
      up_.consume(up_.size());
      co_return co_await reply(502, "handoff: unexpected 101 from the upstream", true);
    }
    x.out.clear();
    build_client_response(resp, {}, x.out);
    finish();
    up_.consume(parsed.head_bytes);
    if (co_await write_client(x.out)) {
      co_await tunnel(sock);
    }
    co_return Outcome::close;
  }

  bool upstream_reusable = false;
  Outcome outcome = Outcome::close;
  const bool dechunk = resp.body == BodyKind::chunked && client_minor == 0;
  const bool close_client =
      !client_keep_alive || worker_.stopping() || resp.body == BodyKind::until_close || dechunk;
  x.out.clear();
  build_client_response(resp, {close_client, client_minor == 0 && client_keep_alive, dechunk},
                        x.out);
  up_.consume(parsed.head_bytes);
  outcome = co_await relay_response(sock, upstream_reusable);
  if (close_client) {
    outcome = Outcome::close;
  }
  handle_.upstream = nullptr;
  if (upstream_reusable && !up.retired() && !worker_.stopping()) {
    worker_.pool().put(up.id(), std::move(sock), worker_.coarse_now());
  }
  up_.release();
  finish();
  co_return outcome;
}

// Streams the response body to the client. `x_->out` holds the response head, which goes out
// with the first body bytes.
asio::awaitable<Outcome> ClientSession::relay_response(tcp::socket& upstream,
                                                       bool& upstream_reusable) {
  Exchange& x = *x_;
  const MessageHead& resp = x.response;
  const BodyKind body = resp.body;
  const bool dechunk = body == BodyKind::chunked && x.request.version_minor == 0;
  std::uint64_t remaining = resp.content_length;
  ChunkedScanner chunks;
  bool head_sent = false;
  bool complete = body == BodyKind::none;

  while (true) {
    std::size_t take = 0;
    std::string_view data = up_.view();
    if (body == BodyKind::length) {
      take = static_cast<std::size_t>(std::min<std::uint64_t>(data.size(), remaining));
      remaining -= take;
      complete = remaining == 0;
    } else if (body == BodyKind::chunked) {
      x.dechunked.clear();
      take = chunks.feed(data, [&](const char* p, std::size_t n) {
        if (dechunk) {
          x.dechunked.append(p, n);
        }
      });
      if (chunks.failed()) {
        // Never pass on a body whose framing is broken: before anything was sent that is a
        // 502; after, the client connection is closed so the body cannot look complete.
        if (!head_sent) {
          up_.consume(up_.size());
          co_return co_await reply(502, "handoff: bad chunked body from the upstream", true);
        }
        co_return Outcome::close;
      }
      complete = chunks.done();
    } else if (body == BodyKind::until_close) {
      take = data.size();
    }
    std::string_view chunk = dechunk ? std::string_view(x.dechunked) : data.substr(0, take);
    if (!head_sent || !chunk.empty()) {
      if (!co_await write_client(head_sent ? std::string_view{} : std::string_view(x.out), chunk)) {
        co_return Outcome::close;
      }
      head_sent = true;
      response_bytes_ += chunk.size();
    }
    up_.consume(take);
    if (complete) {
      break;
    }
    arm(config().upstream_response_timeout);
    auto [ec, n] = co_await upstream.async_read_some(up_.prepare(), nothrow);
    if (handle_.killed) {
      co_return Outcome::close;
    }
    if (ec == asio::error::eof && body == BodyKind::until_close) {
      break;  // the end of a close-delimited body
    }
    if (ec || timed_out()) {
      // A truncated body must not look complete: the client connection is closed.
      co_return Outcome::close;
    }
    up_.commit(n);
  }
  // Bytes after the response mean the upstream is out of step: that connection is not reused.
  upstream_reusable = !resp.connection_close && body != BodyKind::until_close && up_.empty();
  co_return Outcome::keep_alive;
}

asio::awaitable<void> ClientSession::tunnel(tcp::socket& upstream) {
  arm(config().tunnel_idle_timeout);
  co_await (pump(client_, upstream, in_) && pump(upstream, client_, up_));
}

// Copies one direction of a tunnel until end of stream, then half-closes the other side.
asio::awaitable<void> ClientSession::pump(tcp::socket& from, tcp::socket& to, Buffer& buffer) {
  while (true) {
    if (!buffer.empty()) {
      auto [wec, wn] = co_await asio::async_write(to, asio::buffer(buffer.view()), nothrow);
      if (wec || timed_out() || handle_.killed) {
        handle_.close_all();
        co_return;
      }
      buffer.consume(wn);
    }
    auto [ec, n] = co_await from.async_read_some(buffer.prepare(), nothrow);
    if (ec == asio::error::eof) {
      boost::system::error_code ignored;
      to.shutdown(tcp::socket::shutdown_send, ignored);
      co_return;
    }
    if (ec || timed_out() || handle_.killed) {
      handle_.close_all();
      co_return;
    }
    buffer.commit(n);
    arm(config().tunnel_idle_timeout);
  }
}

asio::awaitable<bool> ClientSession::write_client(std::string_view a, std::string_view b) {
  arm(config().client_io_timeout);
  std::array<asio::const_buffer, 2> bufs{asio::buffer(a), asio::buffer(b)};
  auto [ec, n] = co_await asio::async_write(client_, bufs, nothrow);
  disarm();
  co_return !ec && !timed_out() && !handle_.killed;
}

asio::awaitable<Outcome> ClientSession::reply(int status, std::string_view text, bool close) {
  status_ = status;
  const bool closing = close || worker_.stopping();
  const std::string response = make_plain_response(status, text, closing);
  response_bytes_ += text.size() + 1;
  const bool sent = co_await write_client(response);
  finish();
  co_return sent && !closing ? Outcome::keep_alive : Outcome::close;
}

void ClientSession::finish() {
  if (service_ != nullptr) {
    service_->count_response(worker_.index(), status_);
  }
  if (!config().access_log || !x_) {
    return;
  }
  write_access_log(AccessRecord{service_ ? std::string_view(service_->name()) : "",
                                upstream_ ? std::string_view(upstream_->address()) : "", client_ip_,
                                x_->method, x_->target, x_->host, x_->request_id, status_,
                                response_bytes_, Clock::now() - started_});
}

// Holds a request while its service is paused. False when the pause outlasted the service's
// max pause (or the proxy is closing), and the request must be refused.
asio::awaitable<bool> ClientSession::wait_while_paused(Service& service) {
  // The route table may change while we wait; this keeps the service alive for the request.
  held_service_ = service.shared_from_this();
  const auto give_up = Clock::now() + service.max_pause();
  asio::steady_timer timer(worker_.io());
  while (service.paused()) {
    if (Clock::now() >= give_up || worker_.stopping() || handle_.killed) {
      co_return false;
    }
    timer.expires_after(std::chrono::milliseconds(5));
    co_await timer.async_wait(nothrow);
  }
  co_return true;
}

}  // namespace

asio::awaitable<void> serve_client(Worker& worker, tcp::socket socket) {
  ClientSession session(worker, std::move(socket));
  co_await session.run();
}

}  // namespace handoff::proxy
