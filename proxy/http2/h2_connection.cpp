#include "proxy/http2/h2_connection.hpp"

#include <fmt/format.h>

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <vector>

#include "proxy/client_stream.hpp"
#include "proxy/http2/h2_stream.hpp"
#include "proxy/nothrow.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

namespace {

constexpr std::int32_t kStreamWindow = 256 * 1024;
constexpr std::int32_t kConnectionWindow = 1024 * 1024;
// Frames gathered into one write.
constexpr std::size_t kWriteBatch = 64 * 1024;
// Between the two GOAWAY frames of a graceful close: streams the client opened before it saw
// the first one are still served (RFC 9113 §6.8).
constexpr auto kGoawayGrace = std::chrono::seconds(1);
// Header blocks over the limit a connection may send: each is answered 431, but every one costs
// an HPACK decode of what the client compressed, so a client that goes on is cut with
// ENHANCE_YOUR_CALM (RFC 9113 §5.4.1) rather than decoded forever.
constexpr std::size_t kMaxOversizedHeads = 3;

std::string_view view(const std::uint8_t* p, std::size_t n) {
  return {reinterpret_cast<const char*>(p), n};
}

nghttp2_option* make_options() {
  nghttp2_option* options = nullptr;
  nghttp2_option_new(&options);
  // Request body bytes are acknowledged once they went upstream (see H2Stream::body_sent).
  nghttp2_option_set_no_auto_window_update(options, 1);
  // Rapid reset (CVE-2023-44487): a burst of 1000 resets, then 33 a second.
  nghttp2_option_set_stream_reset_rate_limit(options, 1000, 33);
  // CONTINUATION flood: a header block in at most 8 CONTINUATION frames.
  nghttp2_option_set_max_continuations(options, 8);
  // SETTINGS flood: a SETTINGS frame of at most 32 entries; PING and SETTINGS floods: at most
  // 1000 acknowledgements queued for a client that does not read them.
  nghttp2_option_set_max_settings(options, 32);
  nghttp2_option_set_max_outbound_ack(options, 1000);
  return options;
}

}  // namespace

nghttp2_session_callbacks* H2Connection::callbacks() {
  static nghttp2_session_callbacks* const all = [] {
    nghttp2_session_callbacks* cb = nullptr;
    nghttp2_session_callbacks_new(&cb);
    nghttp2_session_callbacks_set_on_begin_headers_callback(cb, &on_begin_headers);
    nghttp2_session_callbacks_set_on_header_callback(cb, &on_header);
    nghttp2_session_callbacks_set_on_frame_recv_callback(cb, &on_frame_recv);
    nghttp2_session_callbacks_set_on_data_chunk_recv_callback(cb, &on_data_chunk);
    nghttp2_session_callbacks_set_on_stream_close_callback(cb, &on_stream_close);
    nghttp2_session_callbacks_set_on_frame_send_callback(cb, &on_frame_send);
    return cb;
  }();
  return all;
}

H2Connection::H2Connection(Worker& worker, ClientStream& client, SessionHandle& handle,
                           Buffer& preread, std::string_view client_ip)
    : worker_(worker),
      client_(client),
      handle_(handle),
      in_(preread),
      client_ip_(client_ip),
      writer_signal_(worker.io()),
      quiet_since_(Clock::now()) {
  static nghttp2_option* const options = make_options();
  if (nghttp2_session_server_new2(&session_, callbacks(), this, options) != 0) {
    throw std::runtime_error("nghttp2_session_server_new2 failed");
  }
  const std::array<nghttp2_settings_entry, 4> settings = {{
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, worker.config().h2_max_streams},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, kStreamWindow},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE,
       static_cast<std::uint32_t>(worker.config().max_header_bytes)},
      {NGHTTP2_SETTINGS_ENABLE_PUSH, 0},
  }};
  nghttp2_submit_settings(session_, NGHTTP2_FLAG_NONE, settings.data(), settings.size());
  nghttp2_session_set_local_window_size(session_, NGHTTP2_FLAG_NONE, 0, kConnectionWindow);
  handle_.hooks = this;
}

H2Connection::~H2Connection() {
  handle_.hooks = nullptr;
  streams_.clear();  // before the session: a stream gives back its unread window to it
  nghttp2_session_del(session_);
}

bool H2Connection::secure() const {
  return client_.secure();
}

void H2Connection::wake_writer() {
  writer_woken_ = true;
  writer_signal_.cancel();
}

H2Stream* H2Connection::stream(std::int32_t id) {
  return static_cast<H2Stream*>(nghttp2_session_get_stream_user_data(session_, id));
}

asio::awaitable<void> H2Connection::run() {
  if (worker_.stopping()) {
    stop_requested();
  }
  co_await (read_loop() && write_loop());
  boost::system::error_code ignored;
  client_.socket().close(ignored);
  co_await end_streams();
}

// Stops every stream that still runs and waits for their coroutines to end.
asio::awaitable<void> H2Connection::end_streams() {
  for (auto& [id, s] : streams_) {
    if (!s->closed()) {
      s->on_closed();
    }
  }
  while (running_ != 0) {
    writer_signal_.expires_at(Clock::time_point::max());
    co_await writer_signal_.async_wait(nothrow);
  }
}

void H2Connection::stream_done(std::int32_t id) {
  --running_;
  if (running_ == 0) {
    quiet_since_ = Clock::now();
    writer_signal_.cancel();  // end_streams may be waiting
  }
  forget_if_done(id);
  wake_writer();
}

void H2Connection::forget_if_done(std::int32_t id) {
  const auto it = streams_.find(id);
  if (it == streams_.end() || !it->second->closed() || it->second->running()) {
    return;
  }
  if (!it->second->head_received()) {
    --heads_pending_;  // closed before its header block ended
  }
  streams_.erase(it);
  if (streams_.empty()) {
    quiet_since_ = Clock::now();
  }
}

void H2Connection::start_stream(H2Stream& s) {
  ++running_;
  s.set_running(true);
  const std::int32_t id = s.id();
  asio::co_spawn(worker_.io(), s.run(), [this, id, &s](std::exception_ptr e) {
    if (e) {
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        fmt::print(stderr, "handoff: HTTP/2 stream failed: {}\n", ex.what());
      }
    }
    s.set_running(false);
    stream_done(id);
  });
}

void H2Connection::stop_requested() {
  if (stopping_) {
    return;
  }
  stopping_ = true;
  notice_sent_at_ = Clock::now();
  nghttp2_submit_shutdown_notice(session_);
  wake_writer();
}

// Feeds what the client sent to nghttp2; false when the session failed (a GOAWAY saying why
// may be waiting to go out).
bool H2Connection::feed(std::string_view bytes) {
  const ssize_t used = nghttp2_session_mem_recv(
      session_, reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
  if (used < 0) {
    failed_ = true;
    return false;
  }
  return true;
}

asio::awaitable<void> H2Connection::read_loop() {
  bool ok = in_.empty() || feed(in_.view());
  in_.consume(in_.size());
  wake_writer();
  while (ok && !failed_) {
    auto [ec, n] = co_await client_.read_some(in_.prepare());
    if (ec) {
      break;
    }
    in_.commit(n);
    ok = feed(in_.view());
    in_.consume(n);
    wake_writer();
  }
  in_.release();
  reader_done_ = true;
  wake_writer();
}

// Moves what nghttp2 has to send into `out_`, up to a batch. False on a session failure.
bool H2Connection::take_output() {
  while (out_.size() < kWriteBatch) {
    const std::uint8_t* data = nullptr;
    const ssize_t n = nghttp2_session_mem_send(session_, &data);
    if (n < 0) {
      return false;
    }
    if (n == 0) {
      break;
    }
    out_.append(view(data, static_cast<std::size_t>(n)));
  }
  return true;
}

asio::awaitable<void> H2Connection::write_loop() {
  while (client_.socket().is_open()) {
    keep_time();
    if (!take_output()) {
      break;
    }
    if (!out_.empty()) {
      handle_.deadline = worker_.deadline_after(worker_.config().client_io_timeout);
      auto [ec, n] = co_await client_.write(out_);
      handle_.deadline = Clock::time_point::max();
      out_.clear();
      if (ec) {
        break;
      }
      quiet_since_ = Clock::now();  // the client is reading
      continue;
    }
    if (reader_done_ ||
        (nghttp2_session_want_read(session_) == 0 && nghttp2_session_want_write(session_) == 0)) {
      break;
    }
    if (!writer_woken_) {
      writer_signal_.expires_at(next_deadline());
      co_await writer_signal_.async_wait(nothrow);
    }
    writer_woken_ = false;
  }
  out_.clear();
  out_.shrink_to_fit();
  client_.shutdown_send();
  boost::system::error_code ignored;
  client_.socket().cancel(ignored);  // the reader stops
}

// The connection's clock: a graceful close sends its second GOAWAY after the grace period, and
// a connection is closed (GOAWAY, then close) when it has nothing to do for too long: no
// stream for the idle timeout, a header block not finished within the header timeout, or
// answers the client does not read (its window stays shut) for the I/O timeout.
void H2Connection::keep_time() {
  const Clock::time_point now = Clock::now();
  if (stopping_ && !final_goaway_ && now >= notice_sent_at_ + kGoawayGrace) {
    final_goaway_ = true;
    nghttp2_submit_goaway(session_, NGHTTP2_FLAG_NONE,
                          nghttp2_session_get_last_proc_stream_id(session_), NGHTTP2_NO_ERROR,
                          nullptr, 0);
  }
  if (!terminated_ && now >= give_up_at()) {
    terminated_ = true;
    nghttp2_session_terminate_session(session_, NGHTTP2_NO_ERROR);
  }
}

Clock::time_point H2Connection::give_up_at() const {
  const ProxyConfig& config = worker_.config();
  Clock::time_point at = Clock::time_point::max();
  if (heads_pending_ != 0) {
    at = heads_since_ + config.client_header_timeout;
  }
  if (running_ == 0) {
    at = std::min(at, quiet_since_ + (streams_.empty() ? config.client_idle_timeout
                                                       : config.client_io_timeout));
  }
  return at;
}

Clock::time_point H2Connection::next_deadline() const {
  Clock::time_point next = terminated_ ? Clock::time_point::max() : give_up_at();
  if (stopping_ && !final_goaway_) {
    next = std::min(next, notice_sent_at_ + kGoawayGrace);
  }
  return next;
}

int H2Connection::on_begin_headers(nghttp2_session* session, const nghttp2_frame* frame,
                                   void* self) {
  auto& c = *static_cast<H2Connection*>(self);
  if (frame->hd.type != NGHTTP2_HEADERS || frame->headers.cat != NGHTTP2_HCAT_REQUEST) {
    return 0;
  }
  const std::int32_t id = frame->hd.stream_id;
  auto s = std::make_unique<H2Stream>(c, id);
  nghttp2_session_set_stream_user_data(session, id, s.get());
  c.streams_[id] = std::move(s);
  if (c.heads_pending_++ == 0) {
    c.heads_since_ = Clock::now();
  }
  return 0;
}

int H2Connection::on_header(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                            const std::uint8_t* name, std::size_t namelen,
                            const std::uint8_t* value, std::size_t valuelen, std::uint8_t /*flags*/,
                            void* self) {
  auto& c = *static_cast<H2Connection*>(self);
  H2Stream* s = c.stream(frame->hd.stream_id);
  if (s == nullptr || frame->hd.type != NGHTTP2_HEADERS) {
    return 0;
  }
  if (frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    s->on_header(view(name, namelen), view(value, valuelen));
    return 0;
  }
  // A trailer section; one that is not allowed resets the stream.
  return s->on_trailer(view(name, namelen), view(value, valuelen))
             ? 0
             : NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
}

int H2Connection::on_frame_recv(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                                void* self) {
  auto& c = *static_cast<H2Connection*>(self);
  H2Stream* s = frame->hd.stream_id != 0 ? c.stream(frame->hd.stream_id) : nullptr;
  if (s == nullptr) {
    return 0;
  }
  const bool end_stream = (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0;
  if (frame->hd.type == NGHTTP2_HEADERS && frame->headers.cat == NGHTTP2_HCAT_REQUEST) {
    --c.heads_pending_;
    s->on_headers_end(end_stream);
    if (s->head_too_large() && ++c.oversized_heads_ > kMaxOversizedHeads) {
      c.worker_.count_calmed();
      return nghttp2_session_terminate_session(c.session_, NGHTTP2_ENHANCE_YOUR_CALM);
    }
    c.start_stream(*s);
  } else if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) && end_stream) {
    s->on_end_stream();
  }
  return 0;
}

int H2Connection::on_data_chunk(nghttp2_session* /*session*/, std::uint8_t /*flags*/,
                                std::int32_t stream_id, const std::uint8_t* data, std::size_t len,
                                void* self) {
  auto& c = *static_cast<H2Connection*>(self);
  if (H2Stream* s = c.stream(stream_id)) {
    s->on_data(view(data, len));
  }
  return 0;
}

int H2Connection::on_stream_close(nghttp2_session* /*session*/, std::int32_t stream_id,
                                  std::uint32_t /*error_code*/, void* self) {
  auto& c = *static_cast<H2Connection*>(self);
  if (H2Stream* s = c.stream(stream_id)) {
    s->on_closed();
    c.forget_if_done(stream_id);
  }
  return 0;
}

int H2Connection::on_frame_send(nghttp2_session* /*session*/, const nghttp2_frame* frame,
                                void* self) {
  auto& c = *static_cast<H2Connection*>(self);
  if ((frame->hd.type == NGHTTP2_HEADERS || frame->hd.type == NGHTTP2_DATA) &&
      (frame->hd.flags & NGHTTP2_FLAG_END_STREAM) != 0) {
    if (H2Stream* s = c.stream(frame->hd.stream_id)) {
      s->on_response_sent();
    }
  }
  return 0;
}

}  // namespace handoff::proxy
