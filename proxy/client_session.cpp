#include "proxy/client_session.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <memory>
#include <optional>
#include <string>
#include <tuple>

#include "proxy/access_log.hpp"
#include "proxy/body_framer.hpp"
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
  std::string out;  // a head being sent, upstream or to the client
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

/// Scope of one exchange with an upstream. While it lasts, the drain and timeout machinery sees
/// the upstream socket; when it ends, whatever is left of the upstream's bytes is dropped, so
/// that nothing read from one exchange can be taken as part of the next.
struct UpstreamScope {
  SessionHandle& handle;
  Buffer& upstream_bytes;
  ~UpstreamScope() {
    handle.upstream = nullptr;
    upstream_bytes.consume(upstream_bytes.size());
    upstream_bytes.release();
  }
};

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
    close_books();
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

  /// What `send_request` did when it did not succeed.
  enum class SendResult : std::uint8_t { retry, answered, closed };
  /// What `read_response_head` found.
  enum class HeadResult : std::uint8_t { complete, retry, ended };
  /// One attempt's connection to the upstream.
  struct UpstreamLink {
    tcp::socket socket;
    bool reused = false;     ///< taken from the pool (a failure may mean it went stale)
    bool replayable = true;  ///< nothing was taken from the client beyond what is buffered
    ParseResult head;        ///< the response head, once read
  };

  asio::awaitable<Outcome> serve_one();
  asio::awaitable<void> linger();
  asio::awaitable<Outcome> forward(const InFlight& flight, std::size_t head_bytes);
  [[nodiscard]] int refuse_body(const BodyFramer& body) const;
  static std::string_view refusal(const BodyFramer& body);
  asio::awaitable<std::optional<SendResult>> send_request(UpstreamLink& link, Upstream& up,
                                                          int attempt, std::string_view first_body,
                                                          bool body_buffered);
  asio::awaitable<std::optional<Outcome>> stream_request_body(tcp::socket& upstream,
                                                              BodyFramer& body,
                                                              bool nothing_buffered);
  asio::awaitable<HeadResult> read_response_head(UpstreamLink& link);
  asio::awaitable<Outcome> deliver_response(UpstreamLink& link, Upstream& up);
  asio::awaitable<Outcome> relay_response(tcp::socket& upstream, bool& upstream_reusable);
  asio::awaitable<void> tunnel(tcp::socket& upstream);
  asio::awaitable<void> pump(tcp::socket& from, tcp::socket& to, Buffer& buffer);
  // Callers build the text in a named variable first: GCC 12 destroys some temporaries in a
  // co_await expression twice (a conditional between a literal and a std::string).
  asio::awaitable<Outcome> reply(int status, std::string_view text, bool close,
                                 std::string_view extra_field = {});
  asio::awaitable<bool> write_client(std::string_view a, std::string_view b = {});
  /// Counts the finished request on its service and writes its access log line; `error` says
  /// why the proxy refused or ended it.
  void finish(std::string_view error = {});
  /// Puts a request that ended without an answer (client gone, or closed at a drain or
  /// shutdown timeout) on the books all the same.
  void close_books() {
    if (request_open_) {
      finish(handle_.killed ? handle_.kill_reason : "the client went away");
    }
  }
  /// Why a request is answered without being forwarded.
  struct Refusal {
    int status;
    std::string text;
  };
  void clear_books();
  void open_books(const ParseResult& parsed);
  [[nodiscard]] std::optional<Refusal> refuse_head(const ParseResult& parsed) const;
  Service* bind_service(Service& found, std::size_t strip);
  /// How the request bound to `upstream_` ended.
  [[nodiscard]] RequestOutcome outcome() const;
  asio::awaitable<bool> wait_while_paused(Service& service);

  Worker& worker_;
  tcp::socket client_;
  SessionHandle handle_;
  Buffer in_;  // bytes from the client
  Buffer up_;  // bytes from the upstream, during an exchange
  std::string client_ip_;
  std::unique_ptr<Exchange> x_;
  // Owned for the request's lifetime: a control operation may replace the route table (and
  // drop the service from it) while the request is suspended.
  std::shared_ptr<Service> service_;
  // The request's upstream, once bound; owned by the InFlight that `forward` holds.
  Upstream* upstream_ = nullptr;
  Outcome last_outcome_ = Outcome::close;  // set by the steps of `forward` that answer
  int status_ = 0;
  std::uint64_t response_bytes_ = 0;
  Clock::time_point started_;
  bool request_open_ = false;    // a request head was read and the request is not yet on the books
  std::string_view cut_;         // why the exchange was cut short (a literal), once it was
  bool connect_failed_ = false;  // no connection to the upstream could be made
  bool answered_by_proxy_ = false;  // the status is handoff's own answer, not the upstream's
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
  clear_books();
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
        started_ = Clock::now();  // the log line's duration; no head, no request before this
        worker_.count_refused(false);
        co_await reply(408, "handoff: timed out reading the request header", true);
      }
      co_return Outcome::close;
    }
    in_.commit(n);
  }
  open_books(parsed);
  if (const std::optional<Refusal> refused = refuse_head(parsed)) {
    worker_.count_refused(false);
    co_return co_await reply(refused->status, refused->text, true);
  }
  const bool has_body = x.request.body != BodyKind::none;
  const RouteMatch route =
      worker_.router().table_for(worker_.index()).match(x.request.host, x.request.target);
  Service* found = route.service;
  if (found == nullptr) {
    worker_.count_refused(true);
    in_.consume(has_body ? 0 : parsed.head_bytes);
    co_return co_await reply(404, "handoff: no service for this host", has_body);
  }
  Service* service = bind_service(*found, route.strip);
  if (service->paused() && !co_await wait_while_paused(*service)) {
    in_.consume(has_body ? 0 : parsed.head_bytes);
    const auto notice = service->pause_notice();
    const std::string text =
        notice->message.empty() ? std::string("handoff: the service is paused") : notice->message;
    const std::string retry = fmt::format("Retry-After: {}", notice->retry_after.count());
    co_return co_await reply(503, text, has_body, retry);
  }
  InFlight flight = service->acquire(worker_.index());
  if (!flight) {
    in_.consume(has_body ? 0 : parsed.head_bytes);
    co_return co_await reply(503, "handoff: the service has no upstream", has_body);
  }
  const Outcome outcome = co_await forward(flight, parsed.head_bytes);
  close_books();  // while the upstream is still owned by `flight`
  upstream_ = nullptr;
  co_return outcome;
}

// Nothing of the previous request may be counted or logged with the next one (a 408 while its
// head is read belongs to no service).
void ClientSession::clear_books() {
  if (config().access_log) {
    x_->method = x_->target = x_->host = x_->request_id = {};
  }
  service_.reset();
  upstream_ = nullptr;
  status_ = 0;
  response_bytes_ = 0;
  cut_ = {};
  connect_failed_ = answered_by_proxy_ = false;
}

// A request head was read (or refused): from now on it goes on the books, whatever happens.
void ClientSession::open_books(const ParseResult& parsed) {
  started_ = Clock::now();  // for the duration histogram and the access log
  request_open_ = true;
  if (config().access_log) {
    Exchange& x = *x_;
    const bool ok = parsed.state == ParseStatus::complete;
    x.method = ok ? x.request.method : std::string_view{};
    x.target = ok ? x.request.target : std::string_view{};
    x.host = ok ? x.request.host : std::string_view{};
    x.request_id.clear();
  }
}

// Why a parsed head is refused before routing: ambiguous or malformed (never forwarded, RFC
// 9112 §11.2), or announcing a body over --max-body. Empty when it may go on.
std::optional<ClientSession::Refusal> ClientSession::refuse_head(const ParseResult& parsed) const {
  if (parsed.state == ParseStatus::error) {
    return Refusal{parsed.error_status, fmt::format("handoff: {}", parsed.error)};
  }
  const MessageHead& req = x_->request;
  if (config().max_body_bytes != 0 && req.body == BodyKind::length &&
      req.content_length > config().max_body_bytes) {
    return Refusal{413, "handoff: request body over the limit"};
  }
  return std::nullopt;
}

// Owns the routed service for the request's lifetime; a service that claims a path prefix
// with --strip-prefix gets the path without it (an empty rest is forwarded as "/").
Service* ClientSession::bind_service(Service& found, std::size_t strip) {
  service_ = found.shared_from_this();
  x_->request.target.remove_prefix(strip);
  return service_.get();
}

asio::awaitable<Outcome> ClientSession::forward(const InFlight& flight, std::size_t head_bytes) {
  Exchange& x = *x_;
  Upstream& up = *flight.get();
  upstream_ = &up;
  const MessageHead& req = x.request;
  x.out.clear();
  std::string_view request_id =
      build_upstream_request(req, {client_ip_, worker_.next_request_id()}, x.out);
  if (config().access_log) {
    x.request_id = request_id;
  }
  // The head's bytes may be overwritten from here on; only the copies above are used.
  in_.consume(head_bytes);

  // The body bytes that arrived with the head go out with it.
  BodyFramer body(req.body, req.content_length);
  const BodyFramer::Step first = body.feed(in_.view());
  if (const int refused = refuse_body(body); refused != 0) {
    const std::string message = fmt::format("handoff: {}", refusal(body));
    co_return co_await reply(refused, message, true);
  }
  UpstreamScope scope{handle_, up_};
  UpstreamLink link{tcp::socket(worker_.io()), false, true, {}};
  for (int attempt = 0;; ++attempt) {
    if (auto failed = co_await send_request(link, up, attempt, first.forward, body.done())) {
      if (*failed == SendResult::retry) {
        continue;
      }
      co_return *failed == SendResult::closed ? Outcome::close : last_outcome_;
    }
    if (!body.done()) {
      // Stream the rest of the body; from here on the request cannot be replayed.
      link.replayable = false;
      in_.consume(first.consumed);
      if (auto ended = co_await stream_request_body(link.socket, body, first.consumed == 0)) {
        co_return *ended;
      }
    }
    const HeadResult head = co_await read_response_head(link);
    if (head == HeadResult::retry) {
      continue;
    }
    if (head == HeadResult::ended) {
      co_return last_outcome_;
    }
    if (link.replayable) {
      in_.consume(first.consumed);
    }
    break;
  }
  co_return co_await deliver_response(link, up);
}

// The status that refuses the request body seen so far: 400 when it is malformed, 413 when it
// is over --max-body; 0 while it is acceptable. (A plain function: this runs for every request,
// and a coroutine would cost a frame allocation each time.)
int ClientSession::refuse_body(const BodyFramer& body) const {
  if (body.failed()) {
    return 400;
  }
  if (config().max_body_bytes != 0 && body.data_bytes() > config().max_body_bytes) {
    return 413;
  }
  return 0;
}

std::string_view ClientSession::refusal(const BodyFramer& body) {
  return body.failed() ? body.error() : std::string_view("request body over the limit");
}

// Opens (or takes from the pool) a connection to `up` and sends the request head with the
// body bytes that came with it. Empty on success.
asio::awaitable<std::optional<ClientSession::SendResult>> ClientSession::send_request(
    UpstreamLink& link, Upstream& up, int attempt, std::string_view first_body,
    bool body_buffered) {
  const Exchange& x = *x_;
  const bool client_keep_alive =
      x.request.version_minor == 1 ? !x.request.connection_close : x.request.connection_keep_alive;
  link.reused = false;
  if (attempt == 0) {
    if (auto pooled = worker_.pool().take(up.id())) {
      link.socket = std::move(*pooled);
      link.reused = true;
    }
  }
  handle_.upstream = &link.socket;
  handle_.upstream_id = up.id();
  if (!link.reused) {
    link.socket = tcp::socket(worker_.io());
    arm(config().upstream_connect_timeout);
    auto [ec] = co_await link.socket.async_connect(up.endpoint(), nothrow);
    if (handle_.killed) {
      co_return SendResult::closed;
    }
    if (ec || timed_out()) {
      service_->count_connect_error(worker_.index());
      connect_failed_ = true;
      const bool timeout = timed_out();
      const std::string message =
          timeout ? std::string("handoff: timed out connecting to the upstream")
                  : fmt::format("handoff: cannot connect to the upstream: {}", ec.message());
      last_outcome_ =
          co_await reply(timeout ? 504 : 502, message, !body_buffered || !client_keep_alive);
      co_return SendResult::answered;
    }
    boost::system::error_code ignored;
    link.socket.set_option(tcp::no_delay(true), ignored);
  }
  // Send the head and the buffered part of the body in one write.
  arm(config().upstream_response_timeout);
  std::array<asio::const_buffer, 2> head_and_body{asio::buffer(x.out), asio::buffer(first_body)};
  auto [wec, wn] = co_await asio::async_write(link.socket, head_and_body, nothrow);
  if (handle_.killed) {
    co_return SendResult::closed;
  }
  if (wec || timed_out()) {
    if (link.reused && !timed_out()) {
      co_return SendResult::retry;  // a stale pooled connection; nothing of this request ran
    }
    last_outcome_ =
        co_await reply(timed_out() ? 504 : 502, "handoff: cannot send to the upstream", true);
    co_return SendResult::answered;
  }
  co_return std::nullopt;
}

// Relays the rest of a request body as the client sends it. Empty when the body is complete.
asio::awaitable<std::optional<Outcome>> ClientSession::stream_request_body(tcp::socket& upstream,
                                                                           BodyFramer& body,
                                                                           bool nothing_buffered) {
  const MessageHead& req = x_->request;
  if (req.expect_continue && req.version_minor == 1 && nothing_buffered) {
    if (!co_await write_client(kContinue)) {
      co_return Outcome::close;
    }
  }
  while (!body.done()) {
    if (in_.empty()) {
      arm(config().client_io_timeout);
      auto [rec, n] = co_await client_.async_read_some(in_.prepare(), nothrow);
      if (rec || timed_out() || handle_.killed) {
        co_return Outcome::close;  // the client went away mid-body; nothing to answer
      }
      in_.commit(n);
    }
    const BodyFramer::Step step = body.feed(in_.view());
    if (const int refused = refuse_body(body); refused != 0) {
      // Part of the body may have gone upstream; that connection is dropped with the request.
      const std::string message = fmt::format("handoff: {}", refusal(body));
      co_return co_await reply(refused, message, true);
    }
    arm(config().upstream_response_timeout);
    auto [wec, wn] = co_await asio::async_write(upstream, asio::buffer(step.forward), nothrow);
    if (handle_.killed) {
      co_return Outcome::close;
    }
    if (wec || timed_out()) {
      co_return co_await reply(timed_out() ? 504 : 502,
                               "handoff: the upstream stopped reading the request", true);
    }
    in_.consume(step.consumed);
  }
  co_return std::nullopt;
}

// Reads the response head, passing interim 1xx responses on to the client.
asio::awaitable<ClientSession::HeadResult> ClientSession::read_response_head(UpstreamLink& link) {
  Exchange& x = *x_;
  const MessageHead& req = x.request;
  const bool client_keep_alive =
      req.version_minor == 1 ? !req.connection_close : req.connection_keep_alive;
  bool got_bytes = false;
  while (true) {
    if (!up_.empty()) {
      link.head = parse_response_head(up_.view(), worker_.upstream_buffers().block_size(),
                                      req.method == "HEAD" ? "HEAD" : "GET", x.response);
      if (link.head.state == ParseStatus::error) {
        const std::string message = fmt::format("handoff: bad response: {}", link.head.error);
        last_outcome_ = co_await reply(502, message, true);
        co_return HeadResult::ended;
      }
      if (link.head.state == ParseStatus::complete) {
        if (x.response.status >= 200 || x.response.status == 101) {
          co_return HeadResult::complete;
        }
        // RFC 9110 §15.2: interim responses go to HTTP/1.1 clients, never to HTTP/1.0 ones.
        if (req.version_minor == 1) {
          x.out.clear();
          build_client_response(x.response, {}, x.out);
          if (!co_await write_client(x.out)) {
            last_outcome_ = Outcome::close;
            co_return HeadResult::ended;
          }
        }
        up_.consume(link.head.head_bytes);
        continue;
      }
    }
    arm(config().upstream_response_timeout);
    auto [rec, n] = co_await link.socket.async_read_some(up_.prepare(), nothrow);
    if (handle_.killed) {
      last_outcome_ = Outcome::close;
      co_return HeadResult::ended;
    }
    if (rec || timed_out()) {
      const bool timeout = timed_out();
      if (!got_bytes && !timeout && link.reused && link.replayable && is_idempotent(req.method)) {
        // The upstream had closed this pooled connection while it sat idle.
        boost::system::error_code ignored;
        link.socket.close(ignored);
        co_return HeadResult::retry;
      }
      const std::string message =
          timeout ? std::string("handoff: timed out waiting for the upstream")
                  : fmt::format("handoff: the upstream closed the connection: {}",
                                rec == asio::error::eof ? "end of stream" : rec.message());
      last_outcome_ =
          co_await reply(timeout ? 504 : 502, message, !link.replayable || !client_keep_alive);
      co_return HeadResult::ended;
    }
    got_bytes = true;
    up_.commit(n);
  }
}

// Sends the final response (or switches to a tunnel after a 101) and decides what becomes of
// both connections.
asio::awaitable<Outcome> ClientSession::deliver_response(UpstreamLink& link, Upstream& up) {
  Exchange& x = *x_;
  const MessageHead& req = x.request;
  const MessageHead& resp = x.response;
  status_ = resp.status;
  if (resp.status == 101) {
    if (!(req.connection_upgrade && req.has_upgrade)) {
      co_return co_await reply(502, "handoff: unexpected 101 from the upstream", true);
    }
    x.out.clear();
    build_client_response(resp, {}, x.out);
    finish();
    up_.consume(link.head.head_bytes);  // what follows the 101 belongs to the tunnel
    if (co_await write_client(x.out)) {
      co_await tunnel(link.socket);
    }
    co_return Outcome::close;
  }
  const int client_minor = req.version_minor;
  const bool client_keep_alive =
      client_minor == 1 ? !req.connection_close : req.connection_keep_alive;
  const bool dechunk = resp.body == BodyKind::chunked && client_minor == 0;
  const bool close_client =
      !client_keep_alive || worker_.stopping() || resp.body == BodyKind::until_close || dechunk;
  x.out.clear();
  build_client_response(resp, {close_client, client_minor == 0 && client_keep_alive, dechunk},
                        x.out);
  up_.consume(link.head.head_bytes);
  bool upstream_reusable = false;
  Outcome outcome = co_await relay_response(link.socket, upstream_reusable);
  if (close_client) {
    outcome = Outcome::close;
  }
  handle_.upstream = nullptr;
  if (upstream_reusable && !up.retired() && !worker_.stopping()) {
    worker_.pool().put(up.id(), std::move(link.socket), worker_.coarse_now());
  }
  finish(cut_);
  co_return outcome;
}

// Streams the response body to the client. `x_->out` holds the response head, which goes out
// with the first body bytes. Bytes the upstream sends after the end of the response are never
// passed on: they mean the upstream is out of step, and its connection is not reused.
asio::awaitable<Outcome> ClientSession::relay_response(tcp::socket& upstream,
                                                       bool& upstream_reusable) {
  Exchange& x = *x_;
  const MessageHead& resp = x.response;
  const bool dechunk = resp.body == BodyKind::chunked && x.request.version_minor == 0;
  BodyFramer body(resp.body, resp.content_length,
                  dechunk ? ChunkedOutput::dechunk : ChunkedOutput::reframe);
  bool head_sent = false;
  while (true) {
    const BodyFramer::Step step = body.feed(up_.view());
    if (body.failed()) {
      // Never pass on a body whose framing is broken: before anything was sent that is a
      // 502; after, the client connection is closed so the body cannot look complete.
      if (!head_sent) {
        co_return co_await reply(502, "handoff: bad chunked body from the upstream", true);
      }
      cut_ = "bad chunked body from the upstream";
      co_return Outcome::close;
    }
    if (!head_sent || !step.forward.empty()) {
      if (!co_await write_client(head_sent ? std::string_view{} : std::string_view(x.out),
                                 step.forward)) {
        cut_ = "the client went away";
        co_return Outcome::close;
      }
      head_sent = true;
      response_bytes_ += step.forward.size();
    }
    up_.consume(step.consumed);
    if (body.done()) {
      break;
    }
    arm(config().upstream_response_timeout);
    auto [ec, n] = co_await upstream.async_read_some(up_.prepare(), nothrow);
    if (handle_.killed) {
      cut_ = handle_.kill_reason;
      co_return Outcome::close;
    }
    if (ec == asio::error::eof && resp.body == BodyKind::until_close) {
      break;  // the end of a close-delimited body
    }
    if (ec || timed_out()) {
      // A truncated body must not look complete: the client connection is closed.
      cut_ = timed_out() ? "timed out waiting for the upstream mid-body"
                         : "the upstream closed mid-body";
      co_return Outcome::close;
    }
    up_.commit(n);
  }
  upstream_reusable = !resp.connection_close && resp.body != BodyKind::until_close && up_.empty();
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

asio::awaitable<Outcome> ClientSession::reply(int status, std::string_view text, bool close,
                                              std::string_view extra_field) {
  status_ = status;
  answered_by_proxy_ = true;
  const bool closing = close || worker_.stopping();
  const std::string response = make_plain_response(status, text, closing, extra_field);
  response_bytes_ += text.size() + 1;
  const bool sent = co_await write_client(response);
  finish(text);
  co_return sent && !closing ? Outcome::keep_alive : Outcome::close;
}

void ClientSession::finish(std::string_view error) {
  request_open_ = false;
  const bool unfinished = status_ == 0 || !cut_.empty() || handle_.killed;
  const Clock::time_point now = Clock::now();  // one clock read for every use
  const Clock::duration took = now - started_;
  if (service_) {
    if (status_ != 0) {
      service_->count_response(worker_.index(), status_);
      service_->count_duration(worker_.index(), now, took);
    }
    if (unfinished) {
      service_->count_unfinished(worker_.index(), handle_.killed);
    }
  }
  if (upstream_ != nullptr) {
    upstream_->count_outcome(worker_.index(), outcome());
  }
  if (!config().access_log || !x_) {
    return;
  }
  write_access_log(AccessRecord{service_ ? std::string_view(service_->name()) : "",
                                upstream_ ? std::string_view(upstream_->address()) : "", client_ip_,
                                x_->method, x_->target, x_->host, x_->request_id, status_,
                                response_bytes_, took, error});
}

RequestOutcome ClientSession::outcome() const {
  if (handle_.killed) {
    return RequestOutcome::cut_at_drain;
  }
  if (connect_failed_) {
    return RequestOutcome::connect_error;
  }
  if (status_ == 0 || !cut_.empty()) {
    return RequestOutcome::incomplete;
  }
  if (status_ >= 500) {
    return answered_by_proxy_ ? RequestOutcome::proxy_5xx : RequestOutcome::upstream_5xx;
  }
  return RequestOutcome::answered;
}

// Holds a request while its service is paused. False when the pause outlasted the service's
// max pause (or the proxy is closing), and the request must be refused.
asio::awaitable<bool> ClientSession::wait_while_paused(Service& service) {
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
