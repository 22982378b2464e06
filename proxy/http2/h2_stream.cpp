#include "proxy/http2/h2_stream.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstring>
#include <vector>

#include "proxy/access_log.hpp"
#include "proxy/http/forward_headers.hpp"
#include "proxy/http2/h2_connection.hpp"
#include "proxy/nothrow.hpp"
#include "proxy/request_books.hpp"
#include "proxy/routing/pause_wait.hpp"
#include "proxy/routing/service.hpp"
#include "proxy/upstream/upstream.hpp"
#include "proxy/upstream/upstream_exchange.hpp"

namespace handoff::proxy {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

// Response bytes a stream holds for a client whose window is closed; the upstream is not read
// beyond them.
constexpr std::size_t kResponseHighWater = 64 * 1024;

nghttp2_nv make_nv(std::string_view name, std::string_view value) {
  // nghttp2 only reads the bytes; NO_COPY_NAME/VALUE: they outlive the submit call.
  return nghttp2_nv{reinterpret_cast<std::uint8_t*>(const_cast<char*>(name.data())),
                    reinterpret_cast<std::uint8_t*>(const_cast<char*>(value.data())), name.size(),
                    value.size(), NGHTTP2_NV_FLAG_NONE};
}

std::vector<nghttp2_nv> to_nv(const FieldBlock& fields) {
  std::vector<nghttp2_nv> nv;
  nv.reserve(fields.size());
  for (std::size_t i = 0; i < fields.size(); ++i) {
    nv.push_back(make_nv(fields.name(i), fields.value(i)));
  }
  return nv;
}

/// Per-worker free list of stream state: a stream's heads and buffers are reused by the next
/// stream instead of being allocated again (two parsed heads alone are 8 KB).
thread_local std::vector<std::unique_ptr<H2StreamScratch>> free_scratch;

std::unique_ptr<H2StreamScratch> borrow_scratch(std::size_t max_header_bytes) {
  if (free_scratch.empty()) {
    return std::make_unique<H2StreamScratch>(max_header_bytes);
  }
  std::unique_ptr<H2StreamScratch> x = std::move(free_scratch.back());
  free_scratch.pop_back();
  x->head.reset(max_header_bytes);
  return x;
}

void return_scratch(std::unique_ptr<H2StreamScratch> x) {
  if (free_scratch.size() < 256) {
    x->clear();
    free_scratch.push_back(std::move(x));
  }
}

}  // namespace

H2Stream::H2Stream(H2Connection& connection, std::int32_t id)
    : RequestFront(connection.worker(), handle_, connection.secure()),
      connection_(connection),
      id_(id),
      wake_(connection.worker().io()),
      x_(borrow_scratch(connection.worker().config().max_header_bytes)),
      up_(connection.worker().upstream_buffers()) {
  handle_.hooks = this;
  client_ip_ = connection.client_ip();
  worker_.attach_stream(handle_);
}

H2Stream::~H2Stream() {
  return_scratch(std::move(x_));
  if (unconsumed_ != 0 && connection_.session() != nullptr) {
    // Body bytes never sent upstream still count against the connection's window.
    nghttp2_session_consume_connection(connection_.session(), unconsumed_);
  }
}

bool H2Stream::on_trailer(std::string_view name, std::string_view value) {
  return chunked_ && x_->head.add_trailer(name, value);
}

void H2Stream::on_headers_end(bool end_stream) {
  head_received_ = true;
  has_body_ = !end_stream;
  body_ended_ = end_stream;
  open_books();
}

void H2Stream::on_data(std::string_view bytes) {
  x_->body_in.append(bytes);
  body_bytes_ += bytes.size();
  unconsumed_ += bytes.size();
  wake_.cancel();
}

void H2Stream::on_end_stream() {
  body_ended_ = true;
  wake_.cancel();
}

void H2Stream::on_closed() {
  closed_ = true;
  if (!sent_whole_ && !handle_.killed) {
    // Reset by the client, or the connection went: whatever runs for the stream stops (the
    // exchange stops as for a kill; the books say the client left).
    client_left_ = true;
    handle_.killed = true;
    handle_.kill_reason = "the client reset the stream";
    handle_.close_all();
  }
  wake_.cancel();
}

void H2Stream::on_response_sent() {
  sent_whole_ = true;
  if (!body_ended_ && !closed_) {
    // Answered before the request ended (RFC 9113 §8.1): the client may stop sending.
    nghttp2_submit_rst_stream(connection_.session(), NGHTTP2_FLAG_NONE, id_, NGHTTP2_NO_ERROR);
  }
}

void H2Stream::interrupt() {
  wake_.cancel();
}

asio::awaitable<void> H2Stream::run() {
  co_await serve_request();
  settle();
  if (!closed_ && (!submitted_ || !cut_.empty() || handle_.killed || status_ == 0)) {
    reset(NGHTTP2_INTERNAL_ERROR);  // a response cut short must not look complete
  }
}

// Waits to be woken (body bytes arrived, the window opened, the stream closed) or for
// `timeout`. False when the stream cannot go on: closed, timed out or killed.
asio::awaitable<bool> H2Stream::wait(Millis timeout) {
  handle_.deadline = worker_.deadline_after(timeout);
  handle_.timed_out = false;
  wake_.expires_at(Clock::time_point::max());
  co_await wake_.async_wait(nothrow);
  handle_.deadline = Clock::time_point::max();
  co_return !closed_ && !handle_.timed_out && !handle_.killed;
}

asio::awaitable<void> H2Stream::serve_request() {
  const H2RequestVerdict verdict = x_->head.finish(has_body_, x_->h1_head);
  if (verdict.refusal < 0) {
    reset(NGHTTP2_PROTOCOL_ERROR);
    clear_books();  // malformed: no request to log
    co_return;
  }
  if (verdict.refusal > 0) {
    worker_.count_refused(false);
    co_await answer(verdict.refusal, fmt::format("handoff: {}", verdict.why), {});
    co_return;
  }
  const ParseResult parsed = parse_request_head(x_->h1_head, x_->h1_head.size() + 1, x_->request);
  if (parsed.state != ParseStatus::complete) {
    worker_.count_refused(false);
    co_await answer(parsed.error_status == 0 ? 400 : parsed.error_status,
                    fmt::format("handoff: {}", parsed.error), {});
    co_return;
  }
  chunked_ = x_->request.body == BodyKind::chunked;
  line_ = {x_->request.method, x_->request.target, x_->request.host};
  co_await RequestFront::serve(x_->request,
                               ExchangeSpace{x_->upstream_head, x_->request_id, x_->response, up_});
}

// The fields end the head: the body bytes received so far go first, framed as it announced.
std::optional<Refusal> H2Stream::take_first_body() {
  if (!x_->body_in.empty() || body_ended_) {
    first_body_ = take_body();
  }
  return std::nullopt;  // a body over --max-body is refused as it arrives (next_body)
}

// Hands the body bytes received so far to the exchange, framed as its head announced.
BodyPiece H2Stream::take_body() {
  x_->framed.clear();
  const std::size_t n = x_->body_in.size();
  if (chunked_) {
    if (n != 0) {
      fmt::format_to(std::back_inserter(x_->framed), "{:x}\r\n", n);
      x_->framed.append(x_->body_in).append("\r\n");
    }
    if (body_ended_) {
      x_->framed.append(x_->head.last_chunk());
    }
  } else {
    x_->framed.swap(x_->body_in);
  }
  x_->body_in.clear();
  return BodyPiece{x_->framed, n, body_ended_};
}

int H2Stream::refuse_body() const {
  const std::uint64_t limit = worker_.config().max_body_bytes;
  return limit != 0 && body_bytes_ > limit ? 413 : 0;
}

asio::awaitable<BodyRead> H2Stream::next_body() {
  while (x_->body_in.empty() && !body_ended_) {
    if (x_->request.expect_continue && !continue_sent_ && body_bytes_ == 0) {
      continue_sent_ = true;
      std::array<nghttp2_nv, 1> nv = {make_nv(":status", "100")};
      nghttp2_submit_headers(connection_.session(), NGHTTP2_FLAG_NONE, id_, nullptr, nv.data(),
                             nv.size(), nullptr);
      connection_.wake_writer();
    }
    const bool woken = co_await wait(worker_.config().client_io_timeout);
    if (!woken) {
      co_return BodyRead{};  // the client went away or stalled mid-body
    }
  }
  if (refuse_body() != 0) {
    BodyRead ended;
    ended.ended = co_await answer(413, "handoff: request body over the limit", {});
    co_return ended;
  }
  co_return BodyRead{true, take_body(), Outcome::close};
}

void H2Stream::body_sent(const BodyPiece& piece) {
  if (piece.consumed != 0 && !closed_) {
    nghttp2_session_consume(connection_.session(), id_, piece.consumed);
    unconsumed_ -= piece.consumed;
    connection_.wake_writer();  // the WINDOW_UPDATE
  }
  first_body_ = {};
}

asio::awaitable<bool> H2Stream::send_interim(const MessageHead& response) {
  if (closed_) {
    co_return false;
  }
  if (response.status != 100) {  // 100 Continue was the proxy's to give (or not) already
    FieldBlock interim;
    build_h2_response(response, {}, interim);
    const std::vector<nghttp2_nv> nv = to_nv(interim);
    nghttp2_submit_headers(connection_.session(), NGHTTP2_FLAG_NONE, id_, nullptr, nv.data(),
                           nv.size(), nullptr);
    connection_.wake_writer();
  }
  co_return true;
}

ChunkedOutput H2Stream::begin_response(const MessageHead& response) {
  status_ = response.status;
  build_h2_response(response, hsts_field(), x_->fields, canary_cookie());
  return ChunkedOutput::dechunk;  // DATA frames carry the body's bytes alone
}

asio::awaitable<bool> H2Stream::send_body(std::string_view bytes) {
  if (closed_) {
    co_return false;
  }
  x_->out.append(bytes);
  response_bytes_ += bytes.size();
  if (!submit_response()) {
    co_return false;
  }
  while (unsent() > kResponseHighWater) {
    const bool woken = co_await wait(worker_.config().client_io_timeout);
    if (!woken) {
      co_return false;  // the client stopped reading, or reset the stream
    }
  }
  co_return true;
}

// Kept for the end of the body: nghttp2 sends them as a HEADERS frame that ends the stream.
void H2Stream::response_trailers(std::string_view fields) {
  while (!fields.empty()) {
    const std::size_t end = fields.find("\r\n");
    const std::string_view line = fields.substr(0, end);
    const std::size_t colon = line.find(':');
    x_->trailers.add(line.substr(0, colon), line.substr(colon + 2));
    fields.remove_prefix(end + 2);
  }
}

Outcome H2Stream::end_response() {
  out_ended_ = true;
  submit_response();
  return Outcome::keep_alive;
}

// Hands the response head to nghttp2 the first time, with a data source reading `x_->out`; later,
// tells it that more data (or its end) is ready.
bool H2Stream::submit_response() {
  if (closed_) {
    return false;
  }
  if (!submitted_) {
    submitted_ = true;
    const std::vector<nghttp2_nv> nv = to_nv(x_->fields);
    nghttp2_data_provider provider{};
    provider.source.ptr = this;
    provider.read_callback = &H2Stream::read_response;
    if (nghttp2_submit_response(connection_.session(), id_, nv.data(), nv.size(), &provider) != 0) {
      return false;
    }
  } else {
    nghttp2_session_resume_data(connection_.session(), id_);
  }
  connection_.wake_writer();
  return true;
}

ssize_t H2Stream::read_response(nghttp2_session* session, std::int32_t /*id*/, std::uint8_t* buf,
                                std::size_t length, std::uint32_t* flags, nghttp2_data_source* src,
                                void* /*user*/) {
  auto& self = *static_cast<H2Stream*>(src->ptr);
  const std::size_t n = std::min(length, self.unsent());
  std::memcpy(buf, self.x_->out.data() + self.out_at_, n);
  self.out_at_ += n;
  if (self.out_at_ == self.x_->out.size()) {
    self.x_->out.clear();
    self.out_at_ = 0;
  }
  if (self.unsent() <= kResponseHighWater) {
    self.wake_.cancel();  // a send_body waiting for room may go on
  }
  if (self.unsent() == 0 && self.out_ended_) {
    *flags |= NGHTTP2_DATA_FLAG_EOF;
    if (self.x_->trailers.size() != 0) {
      *flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      const std::vector<nghttp2_nv> nv = to_nv(self.x_->trailers);
      nghttp2_submit_trailer(session, self.id_, nv.data(), nv.size());
    }
  } else if (n == 0) {
    return NGHTTP2_ERR_DEFERRED;
  }
  return static_cast<ssize_t>(n);
}

asio::awaitable<Outcome> H2Stream::switch_protocols(const MessageHead& /*response*/,
                                                    tcp::socket& /*upstream*/,
                                                    Buffer& /*upstream_bytes*/) {
  // An HTTP/2 request never asks to switch (Upgrade is connection-specific there).
  return answer(502, "handoff: unexpected 101 from the upstream", {});
}

// The proxy's own short answer, in place of the upstream's.
asio::awaitable<Outcome> H2Stream::answer(int status, std::string_view text,
                                          std::string_view extra_field, bool logged_as_error) {
  if (submitted_) {  // the response began already: it can only be cut
    cut_ = "refused after the response began";
    co_return Outcome::close;
  }
  status_ = status;
  answered_by_proxy_ = true;
  first_body_ = {};
  x_->out.assign(text).append("\n");
  out_at_ = 0;
  out_ended_ = true;
  response_bytes_ = x_->out.size();
  x_->fields.clear();
  const std::string status_text = std::to_string(status);
  x_->fields.add(":status", status_text);
  x_->fields.add("content-type", "text/plain; charset=utf-8");
  x_->fields.add("content-length", std::to_string(x_->out.size()));
  if (const std::size_t colon = extra_field.find(':'); colon != std::string_view::npos) {
    x_->fields.add(extra_field.substr(0, colon), extra_field.substr(colon + 2));
  }
  submit_response();
  finish(logged_as_error ? text : std::string_view());
  co_return Outcome::close;
}

void H2Stream::reset(std::uint32_t error_code) {
  if (!closed_ && !reset_sent_) {
    reset_sent_ = true;
    nghttp2_submit_rst_stream(connection_.session(), NGHTTP2_FLAG_NONE, id_, error_code);
    connection_.wake_writer();
  }
}

}  // namespace handoff::proxy
