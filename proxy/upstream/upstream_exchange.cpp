#include "proxy/upstream/upstream_exchange.hpp"

#include <fmt/format.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string>

#include "proxy/http/body_framer.hpp"
#include "proxy/nothrow.hpp"
#include "proxy/socket_write.hpp"
#include "proxy/upstream/upstream.hpp"
#include "proxy/worker.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// A Content-Length body with at least this much still to come goes to a plain client by
// splice(2): below it, the copy through the read buffer costs less than the pipe's calls.
constexpr std::uint64_t kSpliceAtLeast = 64 * 1024;

bool is_idempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS" || method == "TRACE";
}

/// Scope of one exchange. While it lasts, the drain and timeout machinery sees the upstream
/// socket; when it ends, whatever is left of the upstream's bytes is dropped, so that nothing
/// read in one exchange can be taken as part of the next.
struct UpstreamScope {
  UpstreamScope(SessionHandle& handle, Buffer& upstream_bytes)
      : handle(handle), upstream_bytes(upstream_bytes) {}
  UpstreamScope(const UpstreamScope&) = delete;
  UpstreamScope& operator=(const UpstreamScope&) = delete;
  ~UpstreamScope() {
    handle.upstream = nullptr;
    upstream_bytes.consume(upstream_bytes.size());
    upstream_bytes.release();
  }
  SessionHandle& handle;
  Buffer& upstream_bytes;
};

}  // namespace

/// Gives the exchange's connection slot back when the exchange ends, however it ends.
struct UpstreamExchange::SlotRelease {
  explicit SlotRelease(ConnectionCap*& held) : slot(held) {}
  SlotRelease(const SlotRelease&) = delete;
  SlotRelease& operator=(const SlotRelease&) = delete;
  ~SlotRelease() {
    if (slot != nullptr) {
      slot->give_back();
      slot = nullptr;
    }
  }
  ConnectionCap*& slot;
};

UpstreamExchange::UpstreamExchange(Worker& worker, SessionHandle& handle, ClientSide& client,
                                   const MessageHead& request, std::string_view upstream_head,
                                   MessageHead& response, Buffer& upstream_bytes)
    : worker_(worker),
      handle_(handle),
      client_(client),
      head_request_(request.method == "HEAD"),
      idempotent_(is_idempotent(request.method)),
      upgrade_requested_(request.connection_upgrade && request.websocket_upgrade),
      upstream_head_(upstream_head),
      response_(response),
      bytes_(upstream_bytes),
      socket_(worker.io()) {}

void UpstreamExchange::arm(std::chrono::milliseconds timeout) {
  handle_.deadline = worker_.deadline_after(timeout);
  handle_.timed_out = false;
}

bool UpstreamExchange::timed_out() const {
  return handle_.timed_out;
}

bool UpstreamExchange::killed() const {
  return handle_.killed;
}

asio::awaitable<Outcome> UpstreamExchange::run(Upstream& upstream) {
  UpstreamScope scope{handle_, bytes_};
  upstream_ = &upstream;
  const BodyPiece first = client_.first_body();
  // Checked here first: an uncapped member (the default) costs no coroutine frame.
  if (upstream.connection_cap().limited() && !co_await take_connection_slot(first.last)) {
    co_return last_outcome_;
  }
  const SlotRelease release{slot_};
  for (int attempt = 0;; ++attempt) {
    if (auto failed = co_await send_request(attempt, first.bytes, first.last)) {
      if (*failed == SendResult::retry) {
        continue;
      }
      co_return *failed == SendResult::closed ? Outcome::close : last_outcome_;
    }
    if (!first.last) {
      // The rest of the body is streamed; from here on the request cannot be replayed.
      replayable_ = false;
      client_.body_sent(first);
      if (auto ended = co_await send_body()) {
        co_return *ended;
      }
    }
    const HeadResult head = co_await read_response_head();
    if (head == HeadResult::retry) {
      continue;
    }
    if (head == HeadResult::ended) {
      co_return last_outcome_;
    }
    if (replayable_) {
      client_.body_sent(first);
    }
    break;
  }
  co_return co_await deliver_response();
}

// Over the member's connection cap, waits in its queue for a slot (up to --queue-timeout).
// False when the request was answered 503 instead.
asio::awaitable<bool> UpstreamExchange::take_connection_slot(bool body_complete) {
  ConnectionCap& cap = upstream_->connection_cap();
  const Admission admission =
      co_await cap.take(ConnectionCap::Clock::now() + worker_.config().queue_timeout);
  if (admission == Admission::taken) {
    slot_ = &cap;
    co_return true;
  }
  const std::string text =
      admission == Admission::queue_full
          ? std::string("handoff: the upstream is at its connection limit and its queue is full")
          : std::string("handoff: timed out waiting for a connection to the upstream");
  last_outcome_ = co_await client_.reply_busy(text, !body_complete || !client_.persistent());
  co_return false;
}

// Takes a pooled connection to the member (first attempt only) or opens one, and sends the
// request head with the body bytes at hand. Empty on success.
asio::awaitable<std::optional<UpstreamExchange::SendResult>> UpstreamExchange::send_request(
    int attempt, std::string_view first_body, bool body_complete) {
  reused_ = false;
  if (attempt == 0) {
    if (auto pooled = worker_.pool().take(upstream_->id())) {
      socket_ = std::move(*pooled);
      reused_ = true;
    }
  }
  handle_.upstream = &socket_;
  handle_.upstream_id = upstream_->id();
  if (!reused_) {
    if (auto failed = co_await connect(body_complete)) {
      co_return failed;
    }
  }
  // The head and the buffered part of the body go out in one write.
  arm(worker_.config().upstream_response_timeout);
  boost::system::error_code ec;
  const std::size_t sent_at_once = write_at_once(socket_, upstream_head_, first_body, ec);
  if (!ec && sent_at_once < upstream_head_.size() + first_body.size()) {
    const auto [head_rest, body_rest] = unwritten(upstream_head_, first_body, sent_at_once);
    std::tie(ec, std::ignore) = co_await write_all(socket_, head_rest, body_rest);
  }
  if (killed()) {
    co_return SendResult::closed;
  }
  if (ec || timed_out()) {
    if (reused_ && !timed_out()) {
      co_return SendResult::retry;  // a stale pooled connection; nothing of this request ran
    }
    last_outcome_ = co_await client_.reply(timed_out() ? 504 : 502,
                                           "handoff: cannot send to the upstream", true);
    co_return SendResult::answered;
  }
  co_return std::nullopt;
}

// Opens a fresh connection to the member. Empty on success. A failed connect ejects the
// member and, since nothing of the request was sent, moves it to another member once.
asio::awaitable<std::optional<UpstreamExchange::SendResult>> UpstreamExchange::connect(
    bool body_complete) {
  socket_ = tcp::socket(worker_.io());
  arm(worker_.config().upstream_connect_timeout);
  auto [ec] = co_await socket_.async_connect(upstream_->endpoint(), nothrow);
  if (killed()) {
    co_return SendResult::closed;
  }
  if (ec || timed_out()) {
    upstream_->note_connect_failure(worker_.index());
    if (move_to_another_member()) {
      co_return SendResult::retry;
    }
    client_.connect_failed();
    const bool timeout = timed_out();
    const std::string message =
        timeout ? std::string("handoff: timed out connecting to the upstream")
                : fmt::format("handoff: cannot connect to the upstream: {}", ec.message());
    last_outcome_ = co_await client_.reply(timeout ? 504 : 502, message,
                                           !body_complete || !client_.persistent());
    co_return SendResult::answered;
  }
  boost::system::error_code ignored;
  socket_.set_option(tcp::no_delay(true), ignored);
  socket_.non_blocking(true, ignored);  // for write_at_once
  co_return std::nullopt;
}

// Binds the request to another member of its service's set, once per request. False when it
// was moved already or no other member exists.
bool UpstreamExchange::move_to_another_member() {
  if (moved_) {
    return false;
  }
  Upstream* next = client_.rebind();
  if (next == nullptr) {
    return false;
  }
  moved_ = true;
  upstream_ = next;
  // The slot moves with the request; a full member still takes this one retry (an excess of
  // one, on a failed connect only) rather than failing a request that can be served.
  if (slot_ != nullptr) {
    slot_->give_back();
    ConnectionCap& cap = next->connection_cap();
    slot_ = cap.limited() && cap.try_take() ? &cap : nullptr;
  }
  boost::system::error_code ignored;
  socket_.close(ignored);
  return true;
}

// Relays the rest of the request body as the client sends it. Empty when the body is complete.
asio::awaitable<std::optional<Outcome>> UpstreamExchange::send_body() {
  while (true) {
    const BodyRead read = co_await client_.next_body();
    if (!read.ok) {
      co_return read.ended;  // the client went away mid-body, or its body was refused
    }
    arm(worker_.config().upstream_response_timeout);
    auto [ec, n] = co_await write_now_or_later(socket_, read.piece.bytes);
    if (killed()) {
      co_return Outcome::close;
    }
    if (ec || timed_out()) {
      co_return co_await client_.reply(timed_out() ? 504 : 502,
                                       "handoff: the upstream stopped reading the request", true);
    }
    client_.body_sent(read.piece);
    if (read.piece.last) {
      co_return std::nullopt;
    }
  }
}

// Reads the response head, passing interim 1xx responses on to the client.
asio::awaitable<UpstreamExchange::HeadResult> UpstreamExchange::read_response_head() {
  const std::string_view method = head_request_ ? "HEAD" : "GET";
  bool got_bytes = false;
  while (true) {
    if (!bytes_.empty()) {
      const ParseResult head = parse_response_head(
          bytes_.view(), worker_.upstream_buffers().block_size(), method, response_);
      if (head.state == ParseStatus::error) {
        const std::string message = fmt::format("handoff: bad response: {}", head.error);
        last_outcome_ = co_await client_.reply(502, message, true);
        co_return HeadResult::ended;
      }
      if (head.state == ParseStatus::complete) {
        head_bytes_ = head.head_bytes;
        if (response_.status >= 200 || response_.status == 101) {
          co_return HeadResult::complete;
        }
        const bool passed = co_await client_.send_interim(response_);
        if (!passed) {
          last_outcome_ = Outcome::close;
          co_return HeadResult::ended;
        }
        bytes_.consume(head.head_bytes);
        continue;
      }
    }
    arm(worker_.config().upstream_response_timeout);
    auto [ec, n] = co_await socket_.async_read_some(bytes_.prepare(), nothrow);
    if (killed()) {
      last_outcome_ = Outcome::close;
      co_return HeadResult::ended;
    }
    if (ec || timed_out()) {
      co_return co_await upstream_read_failed(ec, got_bytes);
    }
    got_bytes = true;
    bytes_.commit(n);
  }
}

// The upstream closed, failed or timed out before a whole response head: a pooled connection
// that went stale is retried when nothing of the request can have run, else the client gets
// 502 or 504.
asio::awaitable<UpstreamExchange::HeadResult> UpstreamExchange::upstream_read_failed(
    boost::system::error_code ec, bool got_bytes) {
  const bool timeout = timed_out();
  if (!got_bytes && !timeout && replayable_ && idempotent_) {
    if (reused_) {
      // The upstream had closed this pooled connection while it sat idle.
      boost::system::error_code ignored;
      socket_.close(ignored);
      co_return HeadResult::retry;
    }
    if (move_to_another_member()) {  // a fresh connection reset: the member may be going away
      co_return HeadResult::retry;
    }
  }
  const std::string message =
      timeout ? std::string("handoff: timed out waiting for the upstream")
              : fmt::format("handoff: the upstream closed the connection: {}",
                            ec == asio::error::eof ? "end of stream" : ec.message());
  last_outcome_ =
      co_await client_.reply(timeout ? 504 : 502, message, !replayable_ || !client_.persistent());
  co_return HeadResult::ended;
}

// Sends the final response (or hands over to a tunnel after a 101) and decides whether the
// upstream connection goes back to the pool.
asio::awaitable<Outcome> UpstreamExchange::deliver_response() {
  if (response_.status == 101) {
    if (!upgrade_requested_) {
      co_return co_await client_.reply(502, "handoff: unexpected 101 from the upstream", true);
    }
    bytes_.consume(head_bytes_);  // what follows the 101 belongs to the tunnel
    co_return co_await client_.switch_protocols(response_, socket_, bytes_);
  }
  bytes_.consume(head_bytes_);
  bool upstream_reusable = false;
  const Outcome outcome = co_await relay_response(upstream_reusable);
  handle_.upstream = nullptr;
  if (upstream_reusable && !upstream_->retired() && !worker_.stopping()) {
    worker_.pool().put(upstream_->id(), std::move(socket_), worker_.coarse_now());
  }
  co_return outcome;
}

// Streams the response body to the client, the head with its first bytes. Bytes the upstream
// sends after the end of the response are never passed on: they mean the upstream is out of
// step, and its connection is not reused.
asio::awaitable<Outcome> UpstreamExchange::relay_response(bool& upstream_reusable) {
  BodyFramer body(response_.body, response_.content_length, client_.begin_response(response_));
  bool head_sent = false;
  while (true) {
    const BodyFramer::Step step = body.feed(bytes_.view());
    if (body.failed()) {
      // Never pass on a body whose framing is broken: before anything was sent that is a
      // 502; after, the client connection is closed so the body cannot look complete.
      if (!head_sent) {
        co_return co_await client_.reply(502, "handoff: bad chunked body from the upstream", true);
      }
      client_.cut("bad chunked body from the upstream");
      co_return Outcome::close;
    }
    if (!head_sent || !step.forward.empty()) {
      const bool sent = co_await client_.send_body(step.forward);
      if (!sent) {
        client_.cut("the client went away");
        co_return Outcome::close;
      }
      head_sent = true;
    }
    bytes_.consume(step.consumed);
    if (body.done()) {
      break;
    }
    if (bytes_.empty() && body.length_remaining() >= kSpliceAtLeast) {
      if (tcp::socket* to = client_.splice_target()) {
        const std::uint64_t rest = body.length_remaining();
        const bool whole = co_await relay_spliced(*to, rest);
        if (!whole) {
          co_return Outcome::close;  // cut: the client connection ends
        }
        body.skip(rest);
        break;
      }
    }
    arm(worker_.config().upstream_response_timeout);
    auto [ec, n] = co_await socket_.async_read_some(bytes_.prepare(), nothrow);
    if (killed()) {
      client_.cut(handle_.kill_reason);
      co_return Outcome::close;
    }
    if (ec == asio::error::eof && response_.body == BodyKind::until_close) {
      break;  // the end of a close-delimited body
    }
    if (ec || timed_out()) {
      // A truncated body must not look complete: the client connection is closed.
      client_.cut(timed_out() ? "timed out waiting for the upstream mid-body"
                              : "the upstream closed mid-body");
      co_return Outcome::close;
    }
    bytes_.commit(n);
  }
  upstream_reusable =
      !response_.connection_close && response_.body != BodyKind::until_close && bytes_.empty();
  if (!body.trailers().empty()) {
    client_.response_trailers(body.trailers());
  }
  co_return client_.end_response();
}

}  // namespace handoff::proxy
