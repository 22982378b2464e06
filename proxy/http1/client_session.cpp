#include "proxy/http1/client_session.hpp"

#include <fmt/format.h>

#include <algorithm>
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
#include "proxy/client_stream.hpp"
#include "proxy/http/body_framer.hpp"
#include "proxy/http/forward_headers.hpp"
#include "proxy/http/http_head.hpp"
#include "proxy/http/websocket_frames.hpp"
#include "proxy/http2/h2_connection.hpp"
#include "proxy/nothrow.hpp"
#include "proxy/request_front.hpp"
#include "proxy/socket_write.hpp"
#include "proxy/upstream/upstream_exchange.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

/// Per-request working state. It is large (two parsed heads), so connections borrow one from
/// their worker while a request is active instead of holding one while idle.
struct RequestScratch {
  MessageHead request;
  ParseResult parsed;  // of `request`: here rather than in serve_one's coroutine frame, which
                       // Asio's frame recycler keeps only up to 1020 bytes
  MessageHead response;
  std::string upstream_head;  // the request head as forwarded
  std::string client_head;    // a response head for the client
  // Copied for the access log, since the request head's bytes are gone by the time it is written.
  std::string method, target, host, request_id;
};

/// Per-worker free list of RequestScratch objects.
thread_local std::vector<std::unique_ptr<RequestScratch>> free_scratch;

std::unique_ptr<RequestScratch> borrow_scratch() {
  if (free_scratch.empty()) {
    return std::make_unique<RequestScratch>();
  }
  auto x = std::move(free_scratch.back());
  free_scratch.pop_back();
  return x;
}

void return_scratch(std::unique_ptr<RequestScratch> x) {
  if (x && free_scratch.size() < 1024) {
    free_scratch.push_back(std::move(x));
  }
}

// The tunnel's two ends, whichever kind each is.
asio::awaitable<ClientStream::Result> read_some(tcp::socket& from, asio::mutable_buffer into) {
  return from.async_read_some(into, nothrow);
}
asio::awaitable<ClientStream::Result> read_some(ClientStream& from, asio::mutable_buffer into) {
  return from.read_some(into);
}
asio::awaitable<ClientStream::Result> write_all(tcp::socket& to, std::string_view bytes) {
  return asio::async_write(to, asio::buffer(bytes), nothrow);
}
asio::awaitable<ClientStream::Result> write_all(ClientStream& to, std::string_view bytes) {
  return to.write(bytes);
}
void shutdown_send(tcp::socket& to) {
  boost::system::error_code ignored;
  to.shutdown(tcp::socket::shutdown_send, ignored);
}
void shutdown_send(ClientStream& to) {
  to.shutdown_send();
}

/// How far a connection's first bytes match the HTTP/2 client preface (RFC 9113 §3.4).
enum class PrefaceMatch : std::uint8_t { no, partial, whole };

PrefaceMatch match_h2_preface(std::string_view bytes) {
  constexpr std::string_view kPreface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  const std::size_t n = std::min(bytes.size(), kPreface.size());
  if (bytes.substr(0, n) != kPreface.substr(0, n)) {
    return PrefaceMatch::no;
  }
  return n == kPreface.size() ? PrefaceMatch::whole : PrefaceMatch::partial;
}

bool wants_keep_alive(const MessageHead& req) {
  return req.version_minor == 1 ? !req.connection_close : req.connection_keep_alive;
}

/// Sends a WebSocket client the close frame "going away" (1001) when the proxy closes its
/// tunnel, if the bytes written to the client so far end at a frame boundary (a frame of its
/// own in the middle of the upstream's would corrupt the stream).
class WebSocketFarewell final : public SessionHooks {
 public:
  explicit WebSocketFarewell(ClientStream& client) : client_(client) {}
  void say_goodbye() override {
    if (!writing && written.at_boundary()) {
      client_.write_now({WebSocketFrames::kGoingAway.data(), WebSocketFrames::kGoingAway.size()});
    }
  }
  WebSocketFrames written;  ///< the frames written to the client so far
  bool writing = false;     ///< a write to the client is under way

 private:
  ClientStream& client_;
};

// Whether a 101 response switches to WebSocket.
bool switches_to_websocket(const MessageHead& response) {
  return std::any_of(response.begin(), response.end(), [](const Header& h) {
    return h.token == HeaderToken::upgrade && iequals(h.value, "websocket");
  });
}

/// The HTTP/1.1 client side: reads each request on one client connection and hands it to the
/// request front (routing, policies, the member, the books), supplying the request body and
/// taking the response in HTTP/1.1 framing as its exchange's `ClientSide`.
class ClientSession final : public RequestFront {
 public:
  ClientSession(Worker& worker, tcp::socket socket, const TlsContext* tls)
      : RequestFront(worker, handle_, tls != nullptr),
        client_(std::move(socket), tls, worker.upstream_buffers()),
        in_(worker.client_buffers()),
        up_(worker.upstream_buffers()),
        h2c_possible_(worker.config().h2c && tls == nullptr) {
    handle_.client = &client_.socket();
    boost::system::error_code ec;
    auto remote = client_.socket().remote_endpoint(ec);
    peer_ip_ = ec ? "unknown" : remote.address().to_string();
    client_ip_ = peer_ip_;
    worker_.attach(handle_);
  }

  ClientSession(const ClientSession&) = delete;
  ClientSession& operator=(const ClientSession&) = delete;

  ~ClientSession() {
    return_scratch(std::move(x_));
    worker_.detach(handle_);
  }

  asio::awaitable<void> run() {
    // No co_await inside a short-circuit condition: GCC 12 evaluates it even when the left
    // side is false (a failed handshake went on to serve requests).
    const bool shook_hands = co_await shake_hands();
    speaks_h2_ = shook_hands && client_.alpn_h2();
    Outcome outcome = shook_hands && !speaks_h2_ ? Outcome::keep_alive : Outcome::close;
    while (outcome == Outcome::keep_alive) {
      outcome = co_await serve_one();
    }
    if (speaks_h2_) {
      co_await serve_h2();
      co_return;
    }
    settle();
    client_.shutdown_send();
    if (shook_hands && client_.socket().is_open() && !handle_.killed && may_send_more()) {
      co_await linger();
    }
    boost::system::error_code ignored;
    client_.socket().close(ignored);
  }

  // ClientSide. Overrides that are coroutines forward to private ones, so that the interface
  // reads as one block here.
  BodyPiece first_body() override { return first_body_; }
  asio::awaitable<BodyRead> next_body() override { return read_body(); }
  void body_sent(const BodyPiece& piece) override;
  asio::awaitable<bool> send_interim(const MessageHead& response) override {
    return pass_interim(response);
  }
  ChunkedOutput begin_response(const MessageHead& response) override;
  asio::awaitable<bool> send_body(std::string_view bytes) override;
  tcp::socket* splice_target() override {
    return client_.secure() || head_pending_ ? nullptr : &client_.socket();
  }
  void spliced(std::size_t n) override { response_bytes_ += n; }
  Outcome end_response() override {
    return close_after_response_ ? Outcome::close : Outcome::keep_alive;
  }
  asio::awaitable<Outcome> reply(int status, std::string_view text, bool close) override {
    return reply(status, text, close, {});
  }
  asio::awaitable<Outcome> reply_busy(std::string_view text, bool close) override {
    return reply(503, text, close, "Retry-After: 1");
  }
  asio::awaitable<Outcome> switch_protocols(const MessageHead& response, tcp::socket& upstream,
                                            Buffer& upstream_bytes) override;
  [[nodiscard]] bool persistent() const override { return wants_keep_alive(x_->request); }

  // RequestFront.
  asio::awaitable<Outcome> answer_unread(int status, std::string_view text,
                                         std::string_view extra_field,
                                         bool logged_as_error) override;
  std::optional<Refusal> take_first_body() override;

 private:
  void arm(Millis timeout) {
    handle_.deadline = worker_.deadline_after(timeout);
    handle_.timed_out = false;
  }
  void disarm() { handle_.deadline = Clock::time_point::max(); }
  [[nodiscard]] bool timed_out() const { return handle_.timed_out; }
  [[nodiscard]] const ProxyConfig& config() const { return worker_.config(); }

  asio::awaitable<bool> shake_hands();
  asio::awaitable<void> serve_h2();
  bool sees_h2_preface();
  asio::awaitable<Outcome> serve_one();
  asio::awaitable<bool> read_more_input();
  asio::awaitable<void> linger();
  [[nodiscard]] bool may_send_more() const;
  [[nodiscard]] int refuse_body() const;
  [[nodiscard]] std::string_view refusal() const;
  asio::awaitable<BodyRead> read_body();
  asio::awaitable<bool> pass_interim(const MessageHead& response);
  asio::awaitable<Outcome> open_tunnel(tcp::socket& upstream, Buffer& upstream_bytes,
                                       bool websocket);
  asio::awaitable<void> tunnel(tcp::socket& upstream, Buffer& upstream_bytes, bool websocket);
  template <typename From, typename To>
  asio::awaitable<void> pump(From& from, To& to, Buffer& buffer,
                             WebSocketFarewell* farewell = nullptr);
  // Callers build the text in a named variable first: GCC 12 destroys some temporaries in a
  // co_await expression twice (a conditional between a literal and a std::string).
  // `text` goes to the access log as the error unless `answered` (a redirect, an ACME answer).
  asio::awaitable<Outcome> reply(int status, std::string_view text, bool close,
                                 std::string_view extra_field, bool answered = false);
  /// Writes `head` then `body` to the client; `body`'s bytes count as response bytes.
  asio::awaitable<bool> write_client(std::string_view head, std::string_view body = {});
  RequestScratch& begin_request();
  asio::awaitable<Outcome> end_unfinished_head();
  void clear_request();
  void open_request(const ParseResult& parsed);

  ClientStream client_;
  SessionHandle handle_;
  Buffer in_;  // bytes from the client
  Buffer up_;  // bytes from the upstream, during an exchange
  std::string peer_ip_;
  std::unique_ptr<RequestScratch> x_;
  // The request body: its framing, and the bytes that came with the head until they are sent.
  std::optional<BodyFramer> body_;
  BodyPiece first_body_;
  bool nothing_buffered_ = false;      // no body bytes came with the head (Expect: 100-continue)
  bool close_after_response_ = false;  // set by begin_response
  bool head_pending_ = false;          // the response head goes out with the next body bytes
  // HTTP/2: chosen by ALPN, or by the prior-knowledge preface on a plain listener with --h2c
  // (looked for until the first request).
  bool speaks_h2_ = false;
  bool h2c_possible_ = false;
};

// The connection speaks HTTP/2 from here on: the session's stream, handle and read buffer
// serve it.
asio::awaitable<void> ClientSession::serve_h2() {
  {
    H2Connection connection(worker_, client_, handle_, in_, client_ip_);
    co_await connection.run();
  }
  boost::system::error_code ignored;
  client_.socket().close(ignored);
}

// With --h2c, whether the first bytes are the HTTP/2 preface (the connection then switches);
// `h2c_possible_` stays set while they may still be.
bool ClientSession::sees_h2_preface() {
  if (!h2c_possible_ || in_.empty()) {
    return false;
  }
  const PrefaceMatch preface = match_h2_preface(in_.view());
  speaks_h2_ = preface == PrefaceMatch::whole;
  h2c_possible_ = preface == PrefaceMatch::partial;
  if (speaks_h2_) {
    disarm();
  }
  return speaks_h2_;
}

// A TLS connection's handshake, within the header timeout. A failed one (a scanner, plain HTTP
// sent to the TLS port, a garbage record, a name no certificate covers) is closed without an
// answer and counted.
asio::awaitable<bool> ClientSession::shake_hands() {
  if (!client_.secure()) {
    co_return true;
  }
  arm(config().client_header_timeout);
  const bool done = co_await client_.handshake();
  disarm();
  if (!done || timed_out() || handle_.killed) {
    worker_.count_tls_failure();
    co_return false;
  }
  co_return true;
}

// Whether the client may still be sending when the proxy closes: bytes are buffered unread, the
// last request's body was not read to its end, or the client did not ask to close (it may be
// sending its next request). A client that asked to close after a request read whole sends
// nothing more, and is closed without lingering (as nginx does): no extra read and wake-up.
bool ClientSession::may_send_more() const {
  if (!in_.empty() || !x_ || books_open()) {
    return true;
  }
  return wants_keep_alive(x_->request) || (body_ && !body_->done());
}

// Closing a socket with unread input makes the kernel send a reset, which can destroy the
// answer just written (a 400 or 413 sent before the request was read to its end). So the proxy
// half-closes, then reads and drops what the client still sends, for a bounded time and amount,
// before it closes (what nginx calls a lingering close).
asio::awaitable<void> ClientSession::linger() {
  constexpr std::size_t kMaxLingerBytes = 1 << 20;
  arm(std::chrono::seconds(2));
  std::size_t dropped = 0;
  while (dropped < kMaxLingerBytes) {
    auto [ec, n] = co_await client_.socket().async_read_some(in_.prepare(), nothrow);
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
    // At a shutdown, a connection between requests is closed. After a handover it is not: the
    // last response went out before the handover began (a later one says `Connection: close`),
    // so the client may be sending its next request already; that one is read and answered with
    // `Connection: close`, and a client that stays idle is closed at the drain timeout.
    if (worker_.stopping() && !worker_.handing_over()) {
      co_return Outcome::close;
    }
    handle_.idle = true;
    handle_.idle_since = worker_.coarse_now();
    arm(config().client_idle_timeout);
    auto [ec, n] = co_await client_.read_some(in_.prepare());
    if (ec == asio::error::operation_aborted && handle_.parked && !timed_out() && !handle_.killed) {
      // Idle for a while: hold no buffer and no exchange state until the client sends more.
      return_scratch(std::move(x_));
      in_.release();
      std::tie(ec) = co_await client_.wait_readable();
      n = 0;
    }
    handle_.idle = handle_.parked = false;
    if (ec || timed_out() || handle_.killed) {
      co_return Outcome::close;
    }
    in_.commit(n);
  }
  RequestScratch& x = begin_request();
  ParseResult& parsed = x.parsed;
  while (true) {
    if (sees_h2_preface()) {
      co_return Outcome::close;  // run() goes on in HTTP/2
    }
    if (!in_.empty() && !h2c_possible_) {
      parsed = parse_request_head(in_.view(), config().max_header_bytes, x.request);
      if (parsed.state != ParseStatus::incomplete) {
        break;
      }
    }
    auto [ec, n] = co_await client_.read_some(in_.prepare());
    if (ec || timed_out() || handle_.killed) {
      co_return co_await end_unfinished_head();
    }
    in_.commit(n);
  }
  open_request(parsed);
  if (parsed.state == ParseStatus::error) {  // never forwarded (RFC 9112 §11.2)
    worker_.count_refused(false);
    const std::string text = fmt::format("handoff: {}", parsed.error);
    co_return co_await reply(parsed.error_status, text, true);
  }
  co_return co_await serve(x.request,
                           ExchangeSpace{x.upstream_head, x.request_id, x.response, up_});
}

// Answers before any body byte was read: the head's bytes are done with, and a request with a
// body closes the connection (its body is unread).
asio::awaitable<Outcome> ClientSession::answer_unread(int status, std::string_view text,
                                                      std::string_view extra_field,
                                                      bool logged_as_error) {
  const bool has_body = x_->request.body != BodyKind::none;
  in_.consume(has_body ? 0 : x_->parsed.head_bytes);
  return reply(status, text, has_body, extra_field, !logged_as_error);
}

// Frames the body bytes that came with the head (the head to forward is built). A refusal when
// those already make the body unacceptable.
std::optional<Refusal> ClientSession::take_first_body() {
  RequestScratch& x = *x_;
  // The head's bytes may be overwritten by the next read from here on; only the forwarded
  // head, the log's copies and the head's flags are used.
  in_.consume(x.parsed.head_bytes);
  body_.emplace(x.request.body, x.request.content_length);
  const BodyFramer::Step first = body_->feed(in_.view());
  first_body_ = BodyPiece{first.forward, first.consumed, body_->done()};
  nothing_buffered_ = first.consumed == 0;
  if (const int refused = refuse_body(); refused != 0) {
    return Refusal{refused, fmt::format("handoff: {}", refusal())};
  }
  return std::nullopt;
}

// A request head is awaited: the working state is borrowed, the books are cleared.
RequestScratch& ClientSession::begin_request() {
  if (!x_) {
    x_ = borrow_scratch();
  }
  clear_request();
  x_->parsed = {};
  arm(config().client_header_timeout);
  return *x_;
}

// Reading a head failed: the client left, or part of a head came but not the rest within the
// header timeout (408).
asio::awaitable<Outcome> ClientSession::end_unfinished_head() {
  if (!timed_out() || in_.empty()) {
    co_return Outcome::close;
  }
  RequestFront::open_books();  // the log line's duration; no head, no request before this
  worker_.count_refused(false);
  co_await reply(408, "handoff: timed out reading the request header", true);
  co_return Outcome::close;
}

// Nothing of the previous request may be counted or logged with the next one (a 408 while its
// head is read belongs to no service).
void ClientSession::clear_request() {
  if (config().access_log) {
    x_->method = x_->target = x_->host = x_->request_id = {};
  }
  clear_books();
  first_body_ = {};
  close_after_response_ = head_pending_ = false;
}

// A request head was read (or refused): from now on it goes on the books, whatever happens.
// The log names it by copies, since the head's bytes are gone by the time it is written.
void ClientSession::open_request(const ParseResult& parsed) {
  h2c_possible_ = false;  // an HTTP/1.1 request came: this connection speaks HTTP/1.1
  open_books();
  if (config().access_log) {
    RequestScratch& x = *x_;
    const bool ok = parsed.state == ParseStatus::complete;
    x.method = ok ? x.request.method : std::string_view{};
    x.target = ok ? x.request.target : std::string_view{};
    x.host = ok ? x.request.host : std::string_view{};
    x.request_id.clear();
    line_ = {x.method, x.target, x.host};
  }
}

// Reads the next request body bytes from the client, after an `100 Continue` when the client
// waits for one.
asio::awaitable<BodyRead> ClientSession::read_body() {
  const MessageHead& req = x_->request;
  if (req.expect_continue && req.version_minor == 1 && nothing_buffered_) {
    nothing_buffered_ = false;
    const bool sent = co_await write_client(kContinue);
    if (!sent) {
      co_return BodyRead{};
    }
  }
  if (in_.empty()) {
    arm(config().client_io_timeout);
    auto [ec, n] = co_await client_.read_some(in_.prepare());
    if (ec || timed_out() || handle_.killed) {
      co_return BodyRead{};  // the client went away mid-body; nothing to answer
    }
    in_.commit(n);
  }
  const BodyFramer::Step step = body_->feed(in_.view());
  if (const int refused = refuse_body(); refused != 0) {
    // Part of the body may have gone upstream; that connection is dropped with the request.
    const std::string message = fmt::format("handoff: {}", refusal());
    BodyRead ended;
    ended.ended = co_await reply(refused, message, true);
    co_return ended;
  }
  co_return BodyRead{true, {step.forward, step.consumed, body_->done()}, Outcome::close};
}

void ClientSession::body_sent(const BodyPiece& piece) {
  in_.consume(piece.consumed);
  first_body_ = {};  // sent, or superseded by later pieces: never sent again
}

asio::awaitable<bool> ClientSession::pass_interim(const MessageHead& response) {
  // RFC 9110 §15.2: interim responses go to HTTP/1.1 clients, never to HTTP/1.0 ones.
  if (x_->request.version_minor != 1) {
    co_return true;
  }
  x_->client_head.clear();
  build_client_response(response, {}, x_->client_head);
  co_return co_await write_client(x_->client_head);
}

// Decides the client connection's fate (an HTTP/1.0 client gets a chunked body de-chunked, and
// then the end of the connection ends the body) and builds the head.
ChunkedOutput ClientSession::begin_response(const MessageHead& response) {
  status_ = response.status;
  const MessageHead& req = x_->request;
  const bool keep_alive = wants_keep_alive(req);
  const bool http10 = req.version_minor == 0;
  const bool dechunk = response.body == BodyKind::chunked && http10;
  close_after_response_ =
      !keep_alive || worker_.stopping() || response.body == BodyKind::until_close || dechunk;
  x_->client_head.clear();
  build_client_response(
      response,
      {close_after_response_, http10 && keep_alive, dechunk, hsts_field(), canary_cookie()},
      x_->client_head);
  head_pending_ = true;
  return dechunk ? ChunkedOutput::dechunk : ChunkedOutput::reframe;
}

// Not a coroutine (no frame of its own): the head, once, then the body bytes, in one write.
asio::awaitable<bool> ClientSession::send_body(std::string_view bytes) {
  const std::string_view head = head_pending_ ? std::string_view(x_->client_head) : "";
  head_pending_ = false;
  return write_client(head, bytes);
}

// Not a coroutine: the request goes on the books before the tunnel, which may last hours.
asio::awaitable<Outcome> ClientSession::switch_protocols(const MessageHead& response,
                                                         tcp::socket& upstream,
                                                         Buffer& upstream_bytes) {
  status_ = response.status;
  x_->client_head.clear();
  build_client_response(response, {}, x_->client_head);
  finish({});
  return open_tunnel(upstream, upstream_bytes, switches_to_websocket(response));
}

// The awaited result goes into a named variable before the `if`: GCC 12 reads `this` from the
// wrong frame slot in a member coroutine that opens with `if (co_await …)`.
asio::awaitable<Outcome> ClientSession::open_tunnel(tcp::socket& upstream, Buffer& upstream_bytes,
                                                    bool websocket) {
  const bool sent = co_await write_client(x_->client_head);
  if (sent) {
    co_await tunnel(upstream, upstream_bytes, websocket);
  }
  co_return Outcome::close;
}

// The status that refuses the request body seen so far: 400 when it is malformed, 413 when it
// is over --max-body; 0 while it is acceptable.
int ClientSession::refuse_body() const {
  if (body_->failed()) {
    return 400;
  }
  if (config().max_body_bytes != 0 && body_->data_bytes() > config().max_body_bytes) {
    return 413;
  }
  return 0;
}

std::string_view ClientSession::refusal() const {
  return body_->failed() ? body_->error() : std::string_view("request body over the limit");
}

asio::awaitable<void> ClientSession::tunnel(tcp::socket& upstream, Buffer& upstream_bytes,
                                            bool websocket) {
  arm(config().tunnel_idle_timeout);
  WebSocketFarewell farewell(client_);  // lives as long as the tunnel: the frame is awaited
  handle_.hooks = websocket ? &farewell : nullptr;
  co_await (pump(client_, upstream, in_) && pump(upstream, client_, upstream_bytes,
                                                 handle_.hooks != nullptr ? &farewell : nullptr));
  handle_.hooks = nullptr;
}

// Copies one direction of a tunnel until end of stream, then half-closes the other side.
// `farewell`, for the direction towards a WebSocket client, follows the frames written.
template <typename From, typename To>
asio::awaitable<void> ClientSession::pump(From& from, To& to, Buffer& buffer,
                                          WebSocketFarewell* farewell) {
  while (true) {
    if (!buffer.empty()) {
      if (farewell != nullptr) {
        farewell->writing = true;
      }
      auto [wec, wn] = co_await write_all(to, buffer.view());
      if (farewell != nullptr) {
        farewell->writing = false;
        farewell->written.pass(buffer.view().substr(0, wn));
      }
      if (wec || timed_out() || handle_.killed) {
        handle_.close_all();
        co_return;
      }
      buffer.consume(wn);
    }
    auto [ec, n] = co_await read_some(from, buffer.prepare());
    if (ec == asio::error::eof) {
      shutdown_send(to);
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

asio::awaitable<bool> ClientSession::write_client(std::string_view head, std::string_view body) {
  arm(config().client_io_timeout);
  boost::system::error_code ec;
  const std::size_t at_once = client_.write_at_once(head, body, ec);
  if (!ec && at_once < head.size() + body.size()) {
    const auto [head_rest, body_rest] = unwritten(head, body, at_once);
    std::tie(ec, std::ignore) = co_await client_.write(head_rest, body_rest);
  }
  disarm();
  const bool sent = !ec && !timed_out() && !handle_.killed;
  if (sent) {
    response_bytes_ += body.size();
  }
  co_return sent;
}

// The proxy's own answer. The request is answered, so the body bytes that came with its head
// are done with, sent upstream or not: they must never be read as the next request.
asio::awaitable<Outcome> ClientSession::reply(int status, std::string_view text, bool close,
                                              std::string_view extra_field, bool answered) {
  status_ = status;
  answered_by_proxy_ = true;
  in_.consume(first_body_.consumed);
  first_body_ = {};
  const bool closing = close || worker_.stopping();
  const std::string response = make_plain_response(status, text, closing, extra_field);
  response_bytes_ += text.size() + 1;
  const bool sent = co_await write_client(response);
  finish(answered ? std::string_view() : text);
  co_return sent && !closing ? Outcome::keep_alive : Outcome::close;
}

}  // namespace

asio::awaitable<void> serve_client(Worker& worker, tcp::socket socket, const TlsContext* tls) {
  ClientSession session(worker, std::move(socket), tls);
  co_await session.run();
}

}  // namespace handoff::proxy
